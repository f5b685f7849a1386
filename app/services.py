"""What the handlers share, built once by `make_app`."""

from __future__ import annotations

from dataclasses import dataclass

import jinja2

from app.api.execution import Executor
from app.api.live import LiveQueries
from app.config import Settings
from app.realtime.registry import Registry


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    executor: Executor
    live: LiveQueries
    registry: Registry
    templates: jinja2.Environment
