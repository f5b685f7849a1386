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

Two backends behind the same methods, chosen by whether REDIS_URL is set:

- `LocalPresence`: this process's counts are the totals.
- `RedisPresence` (app.realtime.redis_presence): totals across every
  process that shares one Redis.

Threading: everything here runs on the IOLoop thread (see app.realtime).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Key = tuple[str, ...]
#: Called with a key and its new total (throttled, only when it moved).
Notify = Callable[[Key, int], None]
#: Whether anybody in this process listens for a key's notices.
Listened = Callable[[Key], bool]


@dataclass(slots=True)
class _Notice:
    """Per key: the last value notified, when, and the pending trailing edge."""

    sent: int | None = None
    at: float = -math.inf
    timer: asyncio.TimerHandle | None = None


class Presence:
    """Local counts, throttled notices and the idle sweep; the totals
    themselves are the backend's business (`total`, `count`)."""

    def __init__(self, notify: Notify, listened: Listened, interval: float, renew: float) -> None:
        self.notify = notify
        self.listened = listened
        self.interval = interval
        self.renew = renew
        #: This process's count per key (only keys above zero).
        self.local: dict[Key, int] = {}
        #: Keys somebody in this process listens to (since `current`).
        self.followed: set[Key] = set()
        self._notices: dict[Key, _Notice] = {}
        self._sweeper: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ counting

    def enter(self, key: Key) -> None:
        self.local[key] = self.local.get(key, 0) + 1
        self._local_moved(key)

    def leave(self, key: Key) -> None:
        count = self.local.get(key, 0) - 1
        if count > 0:
            self.local[key] = count
        else:
            self.local.pop(key, None)
        self._local_moved(key)

    def current(self, key: Key) -> int | None:
        """The total now, for a listener that just started listening; None
        while it is not known yet (a notice follows once it is)."""
        self.followed.add(key)
        return self.total(key)

    def total(self, key: Key) -> int | None:
        raise NotImplementedError

    async def count(self, key: Key) -> int:
        """The total now, for a one-off read (such as `Counter.watchers`)."""
        raise NotImplementedError

    @property
    def healthy(self) -> bool:
        return True

    def _local_moved(self, key: Key) -> None:
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
        if value is None or value == notice.sent:
            return
        notice.sent = value
        notice.at = asyncio.get_running_loop().time()
        try:
            self.notify(key, value)
        except Exception:
            log.exception("presence notice for %s failed", key)

    # ------------------------------------------------------------- sweep

    def start(self) -> None:
        self._schedule_sweep()

    async def stop(self) -> None:
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

    def forget_idle(self) -> None:
        """Drops what nobody here counts or listens to any more, once its
        throttle has run out (so forgetting never allows an early notice)."""
        for key in [key for key in self.followed if not self.listened(key)]:
            self.followed.discard(key)
            self.forgot(key)
        now = asyncio.get_running_loop().time()
        for key, notice in list(self._notices.items()):
            idle = notice.timer is None and now - notice.at >= self.interval
            if idle and key not in self.local and key not in self.followed:
                del self._notices[key]

    def forgot(self, key: Key) -> None:
        """A key is no longer followed here (backends drop what they keep)."""

    def state(self) -> dict[str, int]:
        """How much this process keeps (for tests proving cleanup)."""
        return {
            "local": len(self.local),
            "followed": len(self.followed),
            "notices": len(self._notices),
        }


class LocalPresence(Presence):
    """One process: its own counts are the totals."""

    def total(self, key: Key) -> int:
        return self.local.get(key, 0)

    async def count(self, key: Key) -> int:
        return self.total(key)
