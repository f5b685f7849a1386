"""Who follows which counter: the subscriptions behind notifications.

A signed-in user follows a counter by name (any name: a counter exists
before its first change), and from then on hears of every change anyone
else makes to it on their "notifications" channel (app.models.notifications
writes those). Follows are private: each method takes the user whose
follows it reads or changes, and the API passes the viewer only.

Both sides are bounded, because the followers of a counter are written
to on every change of it (inside its transaction): a user follows at most
`MAX_FOLLOWING` counters and a counter has at most `MAX_FOLLOWERS`
followers. A follow past either bound is refused and changes nothing.
"""

from __future__ import annotations

import peewee

from app.clock import utcnow
from app.db import database
from app.models.base import BaseModel
from app.models.counter import Counter, check_name
from app.models.errors import InvalidInput
from app.models.user import User

MAX_FOLLOWING = 100
#: Each follower costs a counter change ~40 µs in its transaction, on the
#: event loop with SQLite (app.models.notifications): 100 keep it near 4 ms.
MAX_FOLLOWERS = 100


class CounterFollow(BaseModel):
    id: peewee.AutoField[int]
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", index=False)
    user_id: peewee.ForeignKeyField[int]
    #: By name, not row: a counter that has never changed has no row yet.
    counter_name = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField()

    class Meta:
        # (counter_name, user): the followers of a change, and uniqueness;
        # (user, id): a user's follows, newest first.
        indexes = ((("counter_name", "user"), True), (("user", "id"), False))

    # ------------------------------------------------------------ reading

    @classmethod
    def page(cls, user: User, limit: int, before_id: int | None = None) -> list[CounterFollow]:
        """The user's follows, most recent first, keyset-paged below `before_id`."""
        query = cls.select().where(cls.user == user.id).order_by(cls.id.desc())
        if before_id is not None:
            query = query.where(cls.id < before_id)
        return list(query.limit(limit))

    @staticmethod
    def counters_of(follows: list[CounterFollow]) -> dict[str, Counter]:
        """The followed counters by name, in one query; one never changed
        is at 0, unsaved, as `Counter.lookup` gives it."""
        names = [follow.counter_name for follow in follows]
        found = (
            {c.name: c for c in Counter.select().where(Counter.name.in_(names))} if names else {}
        )
        return {
            name: found.get(name) or Counter(name=name, value=0, operation_count=0)
            for name in names
        }

    @classmethod
    def follows(cls, user: User, name: str) -> bool:
        """Whether `user` follows counter `name`: one lookup of the unique
        (counter_name, user) index, as the counter page is rendered."""
        query = cls.select(cls.id).where((cls.counter_name == name) & (cls.user == user.id))
        return query.exists()

    @classmethod
    def count_for(cls, user: User) -> int:
        return cls.select().where(cls.user == user.id).count()

    # ----------------------------------------------------------- changing

    @classmethod
    def follow(cls, user: User, name: str) -> bool:
        """Makes `user` follow counter `name`; True if they did not already."""
        check_name(name)
        with database.atomic():
            if database.for_update:
                # PostgreSQL: follows of one counter, one at a time, so that
                # two at once cannot both pass the bound (SQLite's writes
                # are one at a time already).
                database.execute_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
            if cls.get_or_none((cls.counter_name == name) & (cls.user == user.id)) is not None:
                return False
            if cls.count_for(user) >= MAX_FOLLOWING:
                raise InvalidInput(
                    f"You follow {MAX_FOLLOWING} counters, the most one may; "
                    "unfollow one before following another."
                )
            followers = cls.select().where(cls.counter_name == name).count()
            if followers >= MAX_FOLLOWERS:
                raise InvalidInput(
                    f"Counter {name!r} has {MAX_FOLLOWERS} followers, the most a counter may have."
                )
            cls.insert(user=user.id, counter_name=name, created_at=utcnow()).execute()
        return True

    @classmethod
    def unfollow(cls, user: User, name: str) -> bool:
        """Stops `user` following counter `name`; True if they did follow it."""
        check_name(name)
        deleted = cls.delete().where((cls.counter_name == name) & (cls.user == user.id)).execute()
        return deleted > 0
