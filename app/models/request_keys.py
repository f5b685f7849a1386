"""Request keys: what one is, and how long it is remembered (the window of
exactly-once changes).

A key (`clientMutationId`, a counter socket operation's `id`) answers its
retries for `REQUEST_KEY_WINDOW` seconds from the change it first made,
the moment that change was stamped with (a counter operation's
`timestamp`, a library request's `created_at`). Answering a retry does not
renew it: the window is about how long a client may go on retrying one
change, not about how often it does. Past the window the key is
forgotten: the change path treats it as never seen and a retry with it is
a new change. A forgotten key may still be stored until the next prune
(app.application runs `CounterOperation.forget_request_keys`,
`library_requests.forget` and `account_requests.forget` periodically), so
every change path decides by time, not by whether a row is there, and the
prune only keeps the storage bounded.

The window is module state, installed by `make_app` (`remember_for`), so
that the hot path of a counter change reads it without a query.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import orjson
import peewee

from app.db import database
from app.models.errors import InvalidInput

#: A request key is the client's own name for one change (a UUID, say).
MAX_REQUEST_KEY = 100


def digest(operation: str, arguments: dict[str, object]) -> str:
    """What a change asks for, in 32 hex digits: the same arguments in any
    order digest alike."""
    text = orjson.dumps([operation, arguments], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()[:32]


def check_request_key(key: object) -> str:
    """A client's request key, checked: 1 to 100 printable characters."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_REQUEST_KEY or not key.isprintable():
        raise InvalidInput(
            f"A request key is 1 to {MAX_REQUEST_KEY} printable characters "
            f"(a UUID, say); got {key!r:.40}."
        )
    return key


#: A day, as Stripe keeps its idempotency keys (and Settings' default).
DEFAULT_WINDOW_SECONDS = 86400.0

_window = timedelta(seconds=DEFAULT_WINDOW_SECONDS)


def remember_for(seconds: float | None) -> None:
    """Keys are remembered `seconds` from their first change from now on;
    None puts back the default."""
    global _window
    _window = timedelta(seconds=DEFAULT_WINDOW_SECONDS if seconds is None else seconds)


def cutoff(now: datetime) -> datetime:
    """Keys whose first change was made at or before this are forgotten."""
    return now - _window


def forgotten(made: datetime, now: datetime) -> bool:
    """Whether a key whose first change was stamped `made` is forgotten at
    `now`: a full window has passed since."""
    return made <= cutoff(now)


def skip_locked(expired: peewee.Select) -> peewee.Select:
    """A prune's choice of rows, passing over those another transaction has
    locked where the database locks rows (PostgreSQL): processes pruning at
    the same time take different rows rather than queue, or deadlock, on
    the same ones. (SQLite's writes are one at a time already.)"""
    return expired.for_update(skip_locked=True) if database.for_update else expired
