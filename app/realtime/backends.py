"""`make_realtime(settings, registry)`: the one place the realtime backends
are chosen.

Without REDIS_URL everything stays in this process: events go straight to
the registry, history is read from the database the models write it to,
presence counts are this process's. With REDIS_URL events travel through
Redis (`RedisBroadcast`), history is kept there, and presence totals are
summed over every process (`RedisTotals`). Either way the result is one
`Realtime`, which `make_app` wires behind app.events.publish and hands to
the handlers.

Threading: `start` and `stop` run on the IOLoop thread (see app.realtime).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from tornado.ioloop import PeriodicCallback

from app import db, events
from app.clock import utcnow
from app.config import Settings
from app.events import Event, Topic
from app.models import stream
from app.realtime.broadcast import Broadcast, LocalBroadcast
from app.realtime.database_history import DatabaseHistory, latest_offset
from app.realtime.history import History
from app.realtime.presence import Key, Presence, Snapshot, Totals
from app.realtime.redis_broadcast import RedisBroadcast
from app.realtime.redis_presence import RedisTotals
from app.realtime.registry import Registry

log = logging.getLogger(__name__)

#: How often history past its time to live is deleted from the database.
PURGE_EVERY_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Realtime:
    """The chosen backends, started and stopped together."""

    #: What app.events.publish hands each committed event to.
    publish: Callable[[Topic, object], None]
    #: What app.events.publish_all hands each committed batch to.
    publish_all: Callable[[Sequence[Event]], None]
    #: Where a reconnecting client's missed events are read from.
    history: History
    #: Watchers per counter and tabs per user.
    presence: Presence
    #: How events reach subscribers; unhealthy while Redis is away.
    broadcast: Broadcast
    #: Periodic work that lives as long as the realtime does.
    chores: list[PeriodicCallback] = field(default_factory=list)

    def start(self) -> None:
        """Starts delivering, counting and the chores; on the running loop."""
        self.broadcast.start()
        self.presence.start()
        for chore in self.chores:
            chore.start()

    async def stop(self) -> None:
        """Stops the chores, takes this process's presence away, and sends
        on what the broadcast still holds."""
        for chore in self.chores:
            chore.stop()
        await self.presence.stop()
        await self.broadcast.stop()


def make_realtime(settings: Settings, registry: Registry) -> Realtime:
    """The backends `settings` ask for, delivering to `registry`; not yet
    started (see `Realtime.start`). Switches the database's own history
    on or off, since the models write it."""
    presence = Presence(
        _notify(registry),
        _listened(registry),
        settings.presence_notice_interval,
        settings.presence_renew,
        _totals(settings),
        settings.presence_members,
    )
    if settings.redis_url:
        stream.keep_history_in_database(None)
        redis_broadcast = RedisBroadcast(
            settings.redis_url,
            registry,
            settings.history_size,
            settings.history_ttl,
            settings.history_meta_ttl,
            _latest_in_database,
        )
        return Realtime(
            redis_broadcast.publish,
            redis_broadcast.publish_all,
            redis_broadcast.history,
            presence,
            redis_broadcast,
        )
    policy = stream.HistoryPolicy(settings.history_size, settings.history_ttl)
    history = DatabaseHistory(stream.keep_history_in_database(policy) or "", policy)
    local = LocalBroadcast(registry)
    purge = PeriodicCallback(_purger(settings.history_ttl), PURGE_EVERY_SECONDS * 1000)
    return Realtime(local.publish, local.publish_all, history, presence, local, [purge])


def _totals(settings: Settings) -> Totals | None:
    if settings.redis_url:
        return RedisTotals(settings.redis_url, settings.presence_ttl)
    return None  # this process's own counts


def _notify(registry: Registry) -> Callable[[Key, Snapshot], None]:
    """Presence notices go to the registry, on each key's own topic."""

    def notify(key: Key, snapshot: Snapshot) -> None:
        notice = events.presence_changed(
            key, snapshot.total, snapshot.members, snapshot.joined, snapshot.left
        )
        registry.publish(events.presence_topic(key), notice)

    return notify


def _listened(registry: Registry) -> Callable[[Key], bool]:
    def listened(key: Key) -> bool:
        return registry.listened(events.presence_topic(key))

    return listened


def _latest_in_database(topic: Topic) -> Awaitable[int]:
    """Where a stream stands in the database, for a Redis history begun afresh."""
    return db.in_database_thread(latest_offset, topic)


def _purger(ttl: float) -> Callable[[], Awaitable[None]]:
    """Deletes database history past its time to live (it is never
    replayed, only taking room)."""

    async def purge() -> None:
        cutoff = utcnow() - timedelta(seconds=ttl)
        try:
            await db.in_write_batch(stream.purge, cutoff)
        except Exception:
            log.exception("purging old stream history failed; will try again")

    return purge
