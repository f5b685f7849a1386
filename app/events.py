"""Changes as typed events, and the one seam from models to realtime.

Models describe what changed with the dataclasses below and hand them to
`publish` after their transaction commits, so a rolled-back change never
reaches a client. What happens next is not their business: `make_app`
installs the realtime registry (or, in tests, anything with the same
signature) with `set_publisher`. This module imports neither Tornado nor
the models, so every layer may depend on it.

A failed broadcast is logged and swallowed: the change it describes is
already committed and acknowledged, and must not be reported as failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

log = logging.getLogger(__name__)

#: Where an event goes: ("counter", name) or ("user", user_id, channel).
Topic = tuple[str, ...]


def counter_topic(name: str) -> Topic:
    return ("counter", name)


def user_topic(user_id: int, channel: str) -> Topic:
    return ("user", str(user_id), channel)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: enough to show them, nothing private."""

    id: int
    username: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CounterSnapshot:
    """A counter's stored state right after a change."""

    id: int | None
    name: str
    value: int
    created_at: datetime | None
    updated_at: datetime | None
    operation_count: int


@dataclass(frozen=True, slots=True)
class CounterChanged:
    """Fires once per committed counter operation (increment, decrement,
    setValue, reset), to every watcher of that counter."""

    type: str
    value: int
    previous_value: int
    counter: CounterSnapshot
    timestamp: datetime
    actor: Actor | None

    @property
    def topic(self) -> Topic:
        return counter_topic(self.counter.name)


def user_sockets_topic(user_id: int) -> Topic:
    """Every open socket of one user: counted against the per-user limit."""
    return ("user-sockets", str(user_id))


def credential_topic(credential_id: int) -> Topic:
    return ("credential", str(credential_id))


@dataclass(frozen=True, slots=True)
class CredentialRevoked:
    """Fires when a user signs out: every socket opened with that credential
    must close."""

    credential_id: int
    user_id: int

    @property
    def topic(self) -> Topic:
        return credential_topic(self.credential_id)


class Event(Protocol):
    @property
    def topic(self) -> Topic: ...


Publisher = Callable[[Topic, object], None]


def _drop(topic: Topic, event: object) -> None:
    """The publisher before any is installed: nobody is listening."""


_publisher: Publisher = _drop


def set_publisher(publisher: Publisher | None) -> None:
    """Installs where events go; None restores the silent default."""
    global _publisher
    _publisher = publisher or _drop


def publish(event: Event) -> None:
    """Hands a committed change to the installed publisher; never raises."""
    try:
        _publisher(event.topic, event)
    except Exception:
        log.exception("broadcast of %s failed; the change itself is saved", event)
