"""What the handlers share, built once by `make_app`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2

from app.api.execution import Executor
from app.api.live import LiveQueries
from app.config import Settings
from app.realtime.history import History
from app.realtime.presence import Presence
from app.realtime.redis_broadcast import RedisBroadcast
from app.realtime.registry import Registry


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    executor: Executor
    live: LiveQueries
    registry: Registry
    #: Set when events travel through Redis (REDIS_URL).
    broadcast: RedisBroadcast | None
    #: Where a reconnecting client's missed events are read from.
    history: History
    templates: jinja2.Environment
    #: Watchers per counter and tabs per user, across processes.
    presence: Presence
    #: Every open WebSocket handler, so that a shutdown can close them all.
    sockets: set[Any] = field(default_factory=set)
    #: Every HTTP request being served, so that a shutdown can let them finish.
    requests: set[Any] = field(default_factory=set)
