"""Public named counters and the history of every operation on them.

Each change is one transaction: lock the row, one atomic
`UPDATE … SET value = value + ?` whose WHERE clause also enforces the
32-bit range (so the database, not Python, decides the new value), and
the history row, numbered with the operation count. That count is the
event's offset in the counter's stream, and the operation log is the
stream's replay history (`CounterOperation.replay`; app.models.stream).
The same transaction writes the notifications of the counter's followers
(app.models.notifications). Only after the commit is the change published,
then its notifications.

The log also answers for the past: `Counter.as_of` is a counter as it
stood at a moment, and `CounterOperation.page` keeps a window of time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import peewee

from app.clock import utcnow
from app.db import database
from app.events import CounterChanged, CounterSnapshot, publish
from app.models import notifications, request_keys, stream
from app.models.base import BaseModel
from app.models.counter_sql import statements
from app.models.errors import InvalidInput
from app.models.request_keys import check_request_key
from app.models.user import User

INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
OPERATION_TYPES = ("increment", "decrement", "setValue", "reset")


def check_name(name: object) -> str:
    """Returns the name if it is a valid counter name, else refuses it."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(
            "A counter name is 1 to 64 characters of letters, digits, "
            f"'_', '.' and '-'; got {name!r}."
        )
    return name


def _check_int32(value: int, what: str) -> int:
    if not INT_MIN <= value <= INT_MAX:
        raise InvalidInput(f"{what} {value} is outside the 32-bit range {INT_MIN}..{INT_MAX}.")
    return value


@dataclass(frozen=True, slots=True)
class CounterAsOf:
    """A counter as it stood at a past moment, rebuilt from its log.

    Kept apart from `Counter` so that nothing can mistake it for the
    stored row; `as_of` bounds its history to that moment."""

    id: int | None
    name: str
    value: int
    operation_count: int
    created_at: datetime | None
    updated_at: datetime | None
    as_of: datetime


def scoped_request_key(key: str, actor: User | None) -> str:
    """`key` as stored: one user's keys never answer another's retries."""
    check_request_key(key)
    return f"{actor.id if actor is not None else '-'}:{key}"


class Counter(BaseModel):
    id: peewee.AutoField[int]
    name = peewee.CharField(max_length=64, unique=True)
    value = peewee.IntegerField(default=0)
    operation_count = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(null=True)
    updated_at = peewee.DateTimeField(null=True, index=True)

    # ------------------------------------------------------------ reading

    @classmethod
    def lookup(cls, name: str) -> Counter:
        """The stored counter, or an unsaved one at 0: every name exists."""
        check_name(name)
        stored = cls.get_or_none(cls.name == name)
        return stored or cls(name=name, value=0, operation_count=0)

    @classmethod
    def page_by_recent_change(
        cls, limit: int, after: tuple[datetime, int] | None = None
    ) -> list[Counter]:
        """Stored counters, most recently changed first, keyset-paged.

        `after` is the (updated_at, id) of the last row already seen.
        """
        query = cls.select().order_by(cls.updated_at.desc(), cls.id.desc())
        if after is not None:
            stamp, row_id = after
            query = query.where(
                (cls.updated_at < stamp) | ((cls.updated_at == stamp) & (cls.id < row_id))
            )
        return list(query.limit(limit))

    @classmethod
    def as_of(cls, name: str, moment: datetime) -> Counter | CounterAsOf:
        """The counter as it was at `moment` (naive UTC).

        A moment not yet past gives the counter as it is now: a client's
        clock may run ahead of ours, and nothing can have happened later
        than now. A moment before the first operation gives the counter
        at 0, never changed, as every name is before it is stored.
        """
        check_name(name)
        if moment >= utcnow():
            return cls.lookup(name)
        stored = cls.get_or_none(cls.name == name)
        if stored is None:
            return CounterAsOf(None, name, 0, 0, None, None, moment)
        last = CounterOperation.last_at_or_before(stored.id, moment)
        if last is None:
            return CounterAsOf(stored.id, name, 0, 0, None, None, moment)
        number = last.operation_number
        if number is None:  # never so since migration 0005; counted then
            number = CounterOperation.count_between(stored.id, None, moment)
        return CounterAsOf(
            stored.id, name, last.value, number, stored.created_at, last.timestamp, moment
        )

    def recent_history(self, limit: int = 20) -> list[CounterOperation]:
        return CounterOperation.page(self.id, limit)

    @classmethod
    def stored_count(cls) -> int:
        return cls.select().count()

    def snapshot(self) -> CounterSnapshot:
        return CounterSnapshot(
            id=self.id,
            name=self.name,
            value=self.value,
            created_at=self.created_at,
            updated_at=self.updated_at,
            operation_count=self.operation_count,
        )

    # ----------------------------------------------------------- changing

    @classmethod
    def increment(
        cls, name: str, amount: int = 1, actor: User | None = None, key: str | None = None
    ) -> CounterChanged:
        _check_int32(amount, "The amount")
        return cls._apply(name, "increment", amount, actor, adds=True, key=key)

    @classmethod
    def decrement(
        cls, name: str, amount: int = 1, actor: User | None = None, key: str | None = None
    ) -> CounterChanged:
        _check_int32(amount, "The amount")
        return cls._apply(name, "decrement", -amount, actor, adds=True, key=key)

    @classmethod
    def set_value(
        cls, name: str, value: int, actor: User | None = None, key: str | None = None
    ) -> CounterChanged:
        _check_int32(value, "The value")
        return cls._apply(name, "setValue", value, actor, adds=False, key=key)

    @classmethod
    def reset(cls, name: str, actor: User | None = None, key: str | None = None) -> CounterChanged:
        return cls._apply(name, "reset", 0, actor, adds=False, key=key)

    @classmethod
    def change(
        cls,
        name: str,
        kind: str,
        number: int | None,
        actor: User | None = None,
        key: str | None = None,
    ) -> CounterChanged:
        """One operation named by its type (OPERATION_TYPES), as the counter
        socket and the counter page's form send it; `number` is the amount,
        or the value for setValue, and is ignored by reset."""
        if kind == "reset":
            return cls.reset(name, actor, key)
        if kind not in OPERATION_TYPES or number is None:
            raise InvalidInput(f"{kind!r} with {number!r} is not a counter operation.")
        if kind == "increment":
            return cls.increment(name, number, actor, key)
        if kind == "decrement":
            return cls.decrement(name, number, actor, key)
        return cls.set_value(name, number, actor, key)

    @classmethod
    def _apply(
        cls,
        name: str,
        op_type: str,
        operand: int,
        actor: User | None,
        adds: bool,
        key: str | None = None,
    ) -> CounterChanged:
        """One change: lock the row, update it atomically within range, record it.

        The hot path of every counter change, so its four statements are
        SQL prepared once per database (app.models.counter_sql) rather than
        built by the query builder each time, which cost five times more
        than running them.

        With a request `key`, the change happens once: a retry with the same
        key (from the same user, or from anonymous visitors) is answered
        with the operation the key first made, from the operation log, and
        changes and publishes nothing. The key is looked up under the row
        lock, so two retries racing on two processes cannot both apply.
        A key is remembered for the window of app.models.request_keys from
        that first operation's timestamp; past it a retry is a new change.
        The lookup returns the timestamp with the id, so the window costs
        no query of its own.
        """
        check_name(name)
        scoped = scoped_request_key(key, actor) if key is not None else None
        sql = statements(database.param, bool(database.for_update))
        with database.atomic():
            # The row lock (FOR UPDATE on PostgreSQL; SQLite's transactions
            # already hold the write lock) makes the value read here the
            # exact previous value of this operation.
            locked = database.execute_sql(sql.select, (name,)).fetchone()
            if locked is None:
                created = utcnow()
                cls.insert(
                    name=name, value=0, operation_count=0, created_at=created, updated_at=created
                ).on_conflict_ignore().execute()
                locked = database.execute_sql(sql.select, (name,)).fetchone()
            row_id, previous = locked
            # Taken under the lock, so that a counter's operations are in
            # time order as they are in number order (`counter(at:)` relies
            # on it): a change that waited for the lock is stamped later.
            now = utcnow()
            stamp = cls.updated_at.db_value(now)
            if scoped is not None:
                prior = database.execute_sql(sql.prior, (row_id, scoped)).fetchone()
                if prior is not None:
                    operation_id, made = prior
                    made_at = CounterOperation.timestamp.python_value(made)
                    if not request_keys.forgotten(made_at, now):
                        return cls._answered_before(operation_id, op_type, operand, adds, key)
                    # Past its window, but still stored: the key passes to
                    # this change (one operation per key per counter).
                    database.execute_sql(sql.forget, (operation_id,))
            update = sql.add if adds else sql.set
            params = (operand, stamp, row_id, operand, INT_MIN, INT_MAX)
            returned = database.execute_sql(update, params).fetchone()
            if returned is None:
                raise InvalidInput(
                    f"That {op_type} would take counter {name!r} outside the "
                    f"32-bit range {INT_MIN}..{INT_MAX}; its value stays {previous}."
                )
            counter = cls._from_row(returned)
            actor_id = actor.id if actor is not None else None
            number = counter.operation_count
            database.execute_sql(
                sql.record,
                (counter.id, number, op_type, previous, counter.value, stamp, actor_id, scoped),
            )
            told = notifications.for_change(name, op_type, previous, counter.value, actor, now)
        event = CounterChanged(
            type=op_type,
            value=counter.value,
            previous_value=previous,
            counter=counter.snapshot(),
            timestamp=now,
            actor=actor.as_actor() if actor is not None else None,
            epoch=stream.database_epoch(),
        )
        publish(event)
        for note in told:
            publish(note)
        return event

    @classmethod
    def _answered_before(
        cls, operation_id: int, op_type: str, operand: int, adds: bool, key: str | None
    ) -> CounterChanged:
        """The event the operation made with this key published, for its
        retry; refused when the retry asks for a different change."""
        row = (
            CounterOperation.select(CounterOperation, User)
            .join(User, peewee.JOIN.LEFT_OUTER)
            .where(CounterOperation.id == operation_id)
            .get()
        )
        counter = cls.get_by_id(row.counter_id)
        same = row.type == op_type and (
            row.value - row.previous_value == operand
            if adds
            else op_type == "reset" or row.value == operand
        )
        if not same:
            raise InvalidInput(
                f"The request key {key!r} was already used for another change of counter "
                f"{counter.name!r} ({row.type}, to {row.value}); nothing was changed. "
                "Use a new key for a new change."
            )
        return row.as_event(counter, epoch=stream.database_epoch())

    @classmethod
    def _from_row(cls, row: Sequence[object]) -> Counter:
        row_id, name, value, operation_count, created_at, updated_at = row
        return cls(
            id=row_id,
            name=name,
            value=value,
            operation_count=operation_count,
            created_at=cls.created_at.python_value(created_at),
            updated_at=cls.updated_at.python_value(updated_at),
        )


class CounterOperation(BaseModel):
    id: peewee.AutoField[int]
    # No index of its own: (counter_id, id) and (counter_id, operation_number)
    # begin with it (migration 0006).
    counter = peewee.ForeignKeyField(
        Counter, backref="operations", on_delete="CASCADE", index=False
    )
    counter_id: peewee.ForeignKeyField[int]
    #: The counter's operation count after this one: its offset in the stream.
    operation_number = peewee.IntegerField(null=True)
    type = peewee.CharField(max_length=16)
    previous_value = peewee.IntegerField()
    value = peewee.IntegerField()
    timestamp = peewee.DateTimeField()
    actor = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    actor_id: peewee.ForeignKeyField[int | None]
    #: The client's request key, scoped to its actor (scoped_request_key):
    #: unique per counter with the key (migration 0009); cleared once past
    #: its window (app.models.request_keys).
    request_key = peewee.CharField(max_length=160, null=True, index=False)

    @classmethod
    def page(
        cls,
        counter_id: int | None,
        limit: int,
        after_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CounterOperation]:
        """A counter's operations newest first, below `after_id` if given,
        and timestamped within [`since`, `until`] where those are given."""
        if counter_id is None:
            return []
        query = (
            cls.select(cls, User)
            .join(User, peewee.JOIN.LEFT_OUTER)
            .where(cls._window(counter_id, since, until))
            .order_by(cls.id.desc())
        )
        if after_id is not None:
            query = query.where(cls.id < after_id)
        return list(query.limit(limit))

    @classmethod
    def count_between(
        cls, counter_id: int | None, since: datetime | None, until: datetime | None
    ) -> int:
        """How many of a counter's operations are timestamped within
        [`since`, `until`]: a range of the (counter_id, timestamp, id) index."""
        if counter_id is None:
            return 0
        return cls.select().where(cls._window(counter_id, since, until)).count()

    @classmethod
    def last_at_or_before(cls, counter_id: int, moment: datetime) -> CounterOperation | None:
        """The operation that left the counter as it was at `moment`: the
        latest timestamped at or before it, one step down the
        (counter_id, timestamp, id) index (ties, in one millisecond, go to the
        later row)."""
        return (
            cls.select()
            .where((cls.counter == counter_id) & (cls.timestamp <= moment))
            .order_by(cls.timestamp.desc(), cls.id.desc())
            .first()
        )

    @classmethod
    def _window(
        cls, counter_id: int, since: datetime | None, until: datetime | None
    ) -> peewee.Expression:
        condition: peewee.Expression = cls.counter == counter_id
        if since is not None:
            condition &= cls.timestamp >= since
        if until is not None:
            condition &= cls.timestamp <= until
        return condition

    @classmethod
    def forget_request_keys(cls, before: datetime, limit: int) -> int:
        """Clears the keys of at most `limit` operations stamped at or before
        `before` (keys past their window: app.models.request_keys); returns
        how many. The operations stay as they were: history, replay and time
        travel never read the key. A range of the partial index of keyed
        operations by time (migration 0011), in no order, so that a large
        backlog is never sorted to take a batch of it."""
        expired = request_keys.skip_locked(
            cls.select(cls.id)
            .where(cls.request_key.is_null(False) & (cls.timestamp <= before))
            .limit(limit)
        )
        return cls.update(request_key=None).where(cls.id.in_(expired)).execute()

    @classmethod
    def replay(
        cls, name: str, after: int, first: int, limit: int, not_before: datetime
    ) -> list[CounterChanged]:
        """The counter's changes numbered after `after` (and from `first`
        on), as the events they published, leaving out any older than
        `not_before`."""
        counter = Counter.get_or_none(Counter.name == name)
        if counter is None:
            return []
        rows = (
            cls.select(cls, User)
            .join(User, peewee.JOIN.LEFT_OUTER)
            .where(
                (cls.counter == counter.id)
                & (cls.operation_number > max(after, first - 1))
                & (cls.timestamp >= not_before)
            )
            .order_by(cls.operation_number)
            .limit(limit)
        )
        return [row.as_event(counter) for row in rows]

    def as_event(self, counter: Counter, epoch: str = "") -> CounterChanged:
        """The event this operation published (its actor loaded with it)."""
        return CounterChanged(
            type=self.type,
            value=self.value,
            previous_value=self.previous_value,
            counter=CounterSnapshot(
                id=counter.id,
                name=counter.name,
                value=self.value,
                created_at=counter.created_at,
                updated_at=self.timestamp,
                operation_count=self.operation_number or 0,
            ),
            timestamp=self.timestamp,
            # By id, so a change by nobody makes no query for its actor.
            actor=self.actor.as_actor() if self.actor_id is not None else None,  # type: ignore[union-attr]
            epoch=epoch,
        )
