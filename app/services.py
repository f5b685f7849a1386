"""What the handlers share, built once by `make_app`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2
from tornado.ioloop import PeriodicCallback

from app.api.execution import Executor
from app.api.live import LiveQueries
from app.config import Settings
from app.realtime.backends import Realtime
from app.realtime.broadcast import Broadcast
from app.realtime.history import History
from app.realtime.presence import Presence
from app.realtime.registry import Registry
from app.web.heartbeat import Heartbeat


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    executor: Executor
    live: LiveQueries
    registry: Registry
    #: Broadcast, history and presence, as app.realtime.backends chose them.
    realtime: Realtime
    templates: jinja2.Environment
    #: Every open WebSocket handler, so that a shutdown can close them all.
    sockets: set[Any] = field(default_factory=set)
    #: Every HTTP request being served, so that a shutdown can let them finish.
    requests: set[Any] = field(default_factory=set)
    #: Pings every open WebSocket handler (none when its interval is 0).
    heartbeat: Heartbeat = field(default_factory=lambda: Heartbeat(0))
    #: Periodic work of the application's own (the realtime has its chores).
    chores: list[PeriodicCallback] = field(default_factory=list)

    @property
    def broadcast(self) -> Broadcast:
        """How events reach subscribers: in this process, or through Redis."""
        return self.realtime.broadcast

    @property
    def history(self) -> History:
        """Where a reconnecting client's missed events are read from."""
        return self.realtime.history

    @property
    def presence(self) -> Presence:
        """Watchers per counter and tabs per user, across processes."""
        return self.realtime.presence
