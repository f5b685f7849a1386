"""Stream positions, and the history of recent events kept in the database:
the write side (reading it back is app.realtime.database_history's job).

Every event on a stream (a counter, each of a user's channels) has an
offset that rises by one per event. It is assigned inside the change's
transaction, under a row lock, so offsets follow commit order even when
several processes write: a counter's is its operation count; a library's
comes from its `stream_offset` row, advanced here, and so do a user's
notifications' (`append_each`, many streams at once).

Where the history lives is chosen once by `make_app`: in the database
(the default, `keep_history_in_database`), where each event is written in
the same transaction as its change, so history and data never disagree;
or in Redis (app.realtime.redis_history), written right after the commit.
In the database a counter needs no copy: its operation log, numbered by
offset, already holds every event it published (app.models.counter);
library events and notifications are recorded here.
The database's history has one epoch, made by the migration: a database
built afresh is a new history, and a position from the old one is not
trusted.

History is bounded both ways: a stream keeps its last `size` events (cut
every `TRIM_EVERY` events, so a little more may linger), and nothing older
than `ttl` seconds is replayed (`purge` deletes it from time to time). A
counter's operation log is kept whole, for its page; the same bounds apply
when it is read as history.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import peewee

from app.clock import utcnow
from app.db import database
from app.events import Topic, stream_name
from app.events_wire import encode
from app.models.base import BaseModel

E = TypeVar("E")

#: A stream's history is cut back to `size` once every this many events.
TRIM_EVERY = 64


@dataclass(frozen=True, slots=True)
class HistoryPolicy:
    #: Events kept per stream.
    size: int = 1000
    #: Seconds an event stays replayable.
    ttl: float = 600.0


class StreamOffset(BaseModel):
    """The last offset given out on a stream that has no row of its own to
    count with (a library; a counter counts with its operation count)."""

    name = peewee.CharField(max_length=200, primary_key=True)
    last_offset = peewee.BigIntegerField()


class StreamRecord(BaseModel):
    """One event of a stream's recent history, as events_wire encodes it."""

    stream = peewee.CharField(max_length=200)
    event_offset = peewee.BigIntegerField()
    data = peewee.TextField()
    created_at = peewee.DateTimeField(index=True)


class HistoryStore(BaseModel):
    """One row: the epoch of the history kept in this database."""

    id: peewee.AutoField[int]
    epoch = peewee.CharField(max_length=32)


@dataclass(slots=True)
class _Keeping:
    policy: HistoryPolicy
    epoch: str


_keeping: _Keeping | None = None


def keep_history_in_database(policy: HistoryPolicy | None) -> str | None:
    """Switches the database history on (returning its epoch) or off (None:
    another store keeps it). Called by make_app, on the loop's thread,
    before any change is made."""
    global _keeping
    if policy is None:
        _keeping = None
        return None
    store = HistoryStore.select().order_by(HistoryStore.id).first()
    if store is None:  # emptied by hand: a new history, so a new epoch
        store = HistoryStore.create(epoch=secrets.token_hex(6))
    _keeping = _Keeping(policy, store.epoch)
    return store.epoch


# ------------------------------------------------------------ while changing
# Called inside the change's transaction.


@dataclass(frozen=True, slots=True)
class _Statements:
    """Written out once per database, not built per change: on the hot path
    of every change, Peewee's query builder cost twice what running the
    statements did (profiled; see app.models.counter_sql)."""

    #: (name, count) -> the stream's last offset after adding `count`.
    advance: str
    #: (name, 0): locks the stream's row, making it if need be.
    claim: str
    #: (stream, offset, data, created_at)
    record: str
    #: (stream, oldest offset kept)
    trim: str


@lru_cache(maxsize=4)
def _statements(p: str) -> _Statements:
    upsert = (
        f'INSERT INTO "stream_offset" ("name", "last_offset") VALUES ({p}, {p}) '
        'ON CONFLICT ("name") DO UPDATE SET "last_offset" = "stream_offset"."last_offset"'
    )
    return _Statements(
        advance=f'{upsert} + EXCLUDED."last_offset" RETURNING "last_offset"',
        claim=upsert,
        record=(
            'INSERT INTO "stream_record" ("stream", "event_offset", "data", "created_at") '
            f"VALUES ({p}, {p}, {p}, {p})"
        ),
        trim=f'DELETE FROM "stream_record" WHERE "stream" = {p} AND "event_offset" < {p}',
    )


def claim(topic: Topic) -> None:
    """Locks the stream's offset row (making it if need be) until the
    transaction ends: a change that claims its stream first waits for any
    other change of that stream to commit, and then sees it."""
    database.execute_sql(_statements(database.param).claim, (stream_name(topic), 0))


def append(topic: Topic, events: Sequence[E]) -> list[E]:
    """Gives `events` the next offsets of `topic` (a stream counted by
    `stream_offset`), records them in the database's history if it keeps
    one, and returns them with their positions."""
    if not events:
        return []
    sql = _statements(database.param)
    (last,) = database.execute_sql(sql.advance, (stream_name(topic), len(events))).fetchone()
    first = last - len(events) + 1
    epoch = database_epoch()
    placed = [
        dataclasses.replace(event, offset=first + i, epoch=epoch)  # type: ignore[type-var]
        for i, event in enumerate(events)
    ]
    if _keeping is not None:
        _record(topic, placed, sql, _keeping.policy.size)
    return placed


def append_each(events: Sequence[E]) -> list[E]:
    """Gives each event (at most one per stream, such as one notification
    per follower) the next offset of its own stream, `event.topic`, and
    records them, in two statements however many there are: one
    multi-row upsert of the offsets and one multi-row insert of the
    history (and, for a stream whose offset reaches a multiple of
    `TRIM_EVERY`, its trim). The streams' rows are locked in name order, so two changes
    that reach the same streams never wait on each other in a circle."""
    if not events:
        return []
    by_name = sorted(
        ((stream_name(event.topic), event) for event in events),  # type: ignore[attr-defined]
        key=lambda pair: pair[0],
    )
    p = database.param
    rows = ", ".join(f"({p}, 1)" for _ in by_name)
    cursor = database.execute_sql(
        f'INSERT INTO "stream_offset" ("name", "last_offset") VALUES {rows} '
        'ON CONFLICT ("name") DO UPDATE SET "last_offset" = "stream_offset"."last_offset" + 1 '
        'RETURNING "name", "last_offset"',
        [name for name, _ in by_name],
    )
    offsets = dict(cursor.fetchall())
    epoch = database_epoch()
    placed = [
        dataclasses.replace(event, offset=offsets[name], epoch=epoch)  # type: ignore[type-var]
        for name, event in by_name
    ]
    if _keeping is not None:
        _record_each(placed, _keeping.policy.size)
    return placed


def _record_each(events: Sequence[Any], size: int) -> None:
    """`_record` for events of as many streams, in one insert."""
    p = database.param
    created_at = StreamRecord.created_at.db_value(utcnow())
    params: list[object] = []
    for event in events:
        params += [stream_name(event.topic), event.offset, encode(event.topic, event).decode()]
        params.append(created_at)
    rows = ", ".join(f"({p}, {p}, {p}, {p})" for _ in events)
    database.execute_sql(
        'INSERT INTO "stream_record" ("stream", "event_offset", "data", "created_at") '
        f"VALUES {rows}",
        params,
    )
    trim = _statements(p).trim
    for event in events:
        if event.offset % TRIM_EVERY == 0:
            database.execute_sql(trim, (stream_name(event.topic), event.offset - size + 1))


def _record(topic: Topic, events: Sequence[Any], sql: _Statements, size: int) -> None:
    """Writes placed events to the database's history, and now and then
    cuts it back to the newest `size`."""
    name = stream_name(topic)
    created_at = StreamRecord.created_at.db_value(utcnow())
    for event in events:
        database.execute_sql(
            sql.record, (name, event.offset, encode(topic, event).decode(), created_at)
        )
    if any(event.offset % TRIM_EVERY == 0 for event in events):
        database.execute_sql(sql.trim, (name, events[-1].offset - size + 1))


# ---------------------------------------------------------------- epoch


def database_epoch() -> str:
    """The epoch of events whose history the database keeps; "" when
    another store keeps it (and stamps them as it writes them)."""
    return _keeping.epoch if _keeping is not None else ""


def purge(older_than: datetime) -> int:
    """Deletes history older than `older_than`; returns how many rows went."""
    return StreamRecord.delete().where(StreamRecord.created_at < older_than).execute()
