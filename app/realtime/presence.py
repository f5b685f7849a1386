"""Presence: how many watchers each key has, across processes, and a
notice when that number moves.

A key is a tuple of strings such as ("counter", name) or ("user", id).
Sockets call `enter(key)` when they start counting towards it and
`leave(key)` when they stop; whoever shows the number calls `current(key)`
once when it starts listening, then hears every move through `notify`
(which `make_app` points at the registry, on a topic of its own). This
module knows nothing of GraphQL, HTTP or wire formats.

Notices are throttled per key: at most one per `interval` seconds, the
latest value always delivered on the trailing edge, and never the same
value twice in a row. They are scheduled on the loop, never sent from
inside `enter`/`leave`, so a burst of connects in one loop turn costs one
notice.

Where the totals come from is a component the `Presence` is given (a
`Totals`), chosen by whether REDIS_URL is set:

- `LocalTotals`: this process's counts are the totals.
- `RedisTotals` (app.realtime.redis_presence): totals across every
  process that shares one Redis.

The component sees this process's counts and followed keys through the
small `Counts` view, and tells the presence when a total may have moved;
the throttle, the notices and the sweep stay here, written once.

Keys also have members (app.realtime.members): `enter(key, member)` names
the socket (a counter's signed-in watcher by username; a user's connection
by its device, app.realtime.devices), and each notice carries the members,
bounded, with who joined and who left since the previous notice. A notice
goes out when the total or the members moved; a listener's first
`current` is what the next notice's joins and leaves are counted from.

Threading: everything here runs on the IOLoop thread (see app.realtime).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from app.realtime.members import LIMIT, Names, Roster, changes

log = logging.getLogger(__name__)

Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one notice tells: the total, the members, and the moves since
    the previous notice of the same key."""

    total: int
    members: Names = ()
    joined: tuple[str, ...] = ()
    left: tuple[str, ...] = ()


#: Called with a key and its new snapshot (throttled, only when it moved).
Notify = Callable[[Key, Snapshot], None]
#: Whether anybody in this process listens for a key's notices.
Listened = Callable[[Key], bool]


@dataclass(slots=True)
class _Notice:
    """Per key: the last value notified, when, and the pending trailing edge."""

    sent: tuple[int, Names] | None = None
    at: float = -math.inf
    timer: asyncio.TimerHandle | None = None


class Counts(Protocol):
    """What a `Totals` component sees of its presence."""

    #: This process's count per key (only keys above zero).
    local: dict[Key, int]
    #: Keys somebody in this process listens to.
    followed: set[Key]
    #: This process's members per key.
    roster: Roster

    def moved(self, key: Key) -> None:
        """The total of `key` may have changed: notify, within the throttle."""


class Totals(Protocol):
    """Where the totals come from: this process alone, or every process."""

    def bind(self, counts: Counts) -> None:
        """Called once by the presence that owns this component."""

    @property
    def healthy(self) -> bool: ...

    def total(self, key: Key) -> int | None:
        """The total now, or None while it is not known yet."""

    def members(self, key: Key) -> Names:
        """The members now, as far as known (with `total`)."""

    async def count(self, key: Key) -> int:
        """The total now, asking further if it is not known here."""

    async def watching(self, key: Key) -> tuple[int, Names]:
        """The total and the members now, asking further if need be."""

    def followed(self, key: Key) -> None:
        """Somebody here started listening to `key`."""

    def local_moved(self, key: Key) -> None:
        """This process's count of `key` changed."""

    def forgot(self, key: Key) -> None:
        """`key` is no longer followed here: drop what is kept for it."""

    def swept(self) -> None:
        """The periodic sweep ran (a moment to renew and re-read)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class LocalTotals:
    """One process: its own counts are the totals."""

    def __init__(self) -> None:
        self.counts: Counts | None = None

    def bind(self, counts: Counts) -> None:
        self.counts = counts

    @property
    def healthy(self) -> bool:
        return True

    def total(self, key: Key) -> int:
        assert self.counts is not None, "bound by its Presence"
        return self.counts.local.get(key, 0)

    def members(self, key: Key) -> Names:
        assert self.counts is not None, "bound by its Presence"
        return self.counts.roster.names(key)

    async def count(self, key: Key) -> int:
        return self.total(key)

    async def watching(self, key: Key) -> tuple[int, Names]:
        return self.total(key), self.members(key)

    def followed(self, key: Key) -> None:
        pass

    def local_moved(self, key: Key) -> None:
        pass

    def forgot(self, key: Key) -> None:
        pass

    def swept(self) -> None:
        pass

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class Presence:
    """Local counts, throttled notices and the idle sweep; the totals
    themselves are the business of the `Totals` component it is given."""

    def __init__(
        self,
        notify: Notify,
        listened: Listened,
        interval: float,
        renew: float,
        totals: Totals | None = None,
        members_limit: int = LIMIT,
    ) -> None:
        self.notify = notify
        self.listened = listened
        self.interval = interval
        self.renew = renew
        #: This process's count per key (only keys above zero).
        self.local: dict[Key, int] = {}
        #: Keys somebody in this process listens to (since `current`).
        self.followed: set[Key] = set()
        #: This process's members per key (named sockets only).
        self.roster = Roster(members_limit)
        self._notices: dict[Key, _Notice] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self.totals: Totals = totals if totals is not None else LocalTotals()
        self.totals.bind(self)

    # ------------------------------------------------------------ counting

    def enter(self, key: Key, member: str | None = None) -> None:
        """Counts one socket towards `key`; `member` names its user (None:
        counted, not named). `leave` must be given the same member."""
        self.local[key] = self.local.get(key, 0) + 1
        if member is not None:
            self.roster.enter(key, member)
        self._local_moved(key)

    def leave(self, key: Key, member: str | None = None) -> None:
        count = self.local.get(key, 0) - 1
        if count > 0:
            self.local[key] = count
        else:
            self.local.pop(key, None)
        if member is not None:
            self.roster.leave(key, member)
        self._local_moved(key)

    def current(self, key: Key) -> int | None:
        """The total now, for a listener that just started listening; None
        while it is not known yet (a notice follows once it is)."""
        self.totals.followed(key)
        self.followed.add(key)
        total = self.total(key)
        if total is not None and key not in self._notices:
            # What this listener is told now is what the next notice's
            # joined and left are counted from.
            self._notices[key] = _Notice(sent=(total, self.members(key)))
        return total

    def total(self, key: Key) -> int | None:
        return self.totals.total(key)

    def members(self, key: Key) -> Names:
        """The members now, for a listener that just got `current`."""
        return self.totals.members(key)

    async def count(self, key: Key) -> int:
        """The total now, for a one-off read (such as `Counter.watchers`)."""
        return await self.totals.count(key)

    async def watching(self, key: Key) -> tuple[int, Names]:
        """The total and the members now, for a one-off read
        (`Counter.watching`)."""
        return await self.totals.watching(key)

    @property
    def healthy(self) -> bool:
        return self.totals.healthy

    def _local_moved(self, key: Key) -> None:
        self.totals.local_moved(key)
        self.moved(key)

    # ----------------------------------------------------------- notices

    def moved(self, key: Key) -> None:
        """The total of `key` may have changed: notify, within the throttle."""
        notice = self._notices.get(key)
        if notice is None:
            notice = self._notices[key] = _Notice()
        if notice.timer is not None:
            return  # the trailing edge will carry the latest value
        loop = asyncio.get_running_loop()
        delay = max(0.0, notice.at + self.interval - loop.time())
        notice.timer = loop.call_later(delay, self._send, key)

    def _send(self, key: Key) -> None:
        notice = self._notices.get(key)
        if notice is None:
            return
        notice.timer = None
        value = self.total(key)
        if value is None:
            return
        members = self.members(key)
        if notice.sent is not None and notice.sent == (value, members):
            return
        before = notice.sent[1] if notice.sent is not None else ()
        joined, left = changes(before, members)
        notice.sent = (value, members)
        notice.at = asyncio.get_running_loop().time()
        try:
            self.notify(key, Snapshot(value, members, joined, left))
        except Exception:
            log.exception("presence notice for %s failed", key)

    # ------------------------------------------------------------- sweep

    def start(self) -> None:
        self._schedule_sweep()
        self.totals.start()

    async def stop(self) -> None:
        self._stop_notices()
        await self.totals.stop()

    def _stop_notices(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for notice in self._notices.values():
            if notice.timer is not None:
                notice.timer.cancel()
        self._notices.clear()

    def _schedule_sweep(self) -> None:
        self._sweeper = asyncio.get_running_loop().call_later(self.renew, self._sweep)

    def _sweep(self) -> None:
        self.forget_idle()
        self._schedule_sweep()
        self.totals.swept()

    def forget_idle(self) -> None:
        """Drops what nobody here counts or listens to any more, once its
        throttle has run out (so forgetting never allows an early notice)."""
        for key in [key for key in self.followed if not self.listened(key)]:
            self.followed.discard(key)
            self.totals.forgot(key)
        now = asyncio.get_running_loop().time()
        for key, notice in list(self._notices.items()):
            idle = notice.timer is None and now - notice.at >= self.interval
            if idle and key not in self.local and key not in self.followed:
                del self._notices[key]

    def state(self) -> dict[str, int]:
        """How much this process keeps (for tests proving cleanup)."""
        return {
            "local": len(self.local),
            "members": len(self.roster),
            "followed": len(self.followed),
            "notices": len(self._notices),
        }
