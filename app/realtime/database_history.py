"""The stream history kept in the database (the default store): the read side.

Events are written by the models, in the same transaction as their
change (app.models.stream, the write side); this reads them back for
clients that resume. A counter needs no copy of its events: its
operation log, numbered by offset, is read back as them
(`CounterOperation.replay`); library events come from `StreamRecord`.
On PostgreSQL the reads run on the database thread, like every query.

The bounds of `HistoryPolicy` apply here as well as when writing: a
counter's operation log is kept whole (for its page), so it is cut to the
newest `size` events, and to the last `ttl` seconds, as it is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from app.clock import utcnow
from app.db import in_database_thread
from app.events import Topic, stream_name
from app.events_wire import decode
from app.models.counter import Counter, CounterOperation
from app.models.stream import TRIM_EVERY, HistoryPolicy, StreamOffset, StreamRecord
from app.realtime.history import Batch, Position


def latest_offset(topic: Topic) -> int:
    """The offset of the stream's newest committed event (0: none yet)."""
    if topic[0] == "counter":
        return Counter.lookup(topic[1]).operation_count
    row = StreamOffset.get_or_none(StreamOffset.name == stream_name(topic))
    return row.last_offset if row is not None else 0


def recorded_after(topic: Topic, after: int, limit: int, not_before: datetime) -> list[Any]:
    """The stream's recorded events after offset `after`, oldest first,
    leaving out any older than `not_before`."""
    query = (
        StreamRecord.select(StreamRecord.data)
        .where(
            (StreamRecord.stream == stream_name(topic))
            & (StreamRecord.event_offset > after)
            & (StreamRecord.created_at >= not_before)
        )
        .order_by(StreamRecord.event_offset)
        .limit(limit)
        .tuples()
    )
    rows = cast("Iterable[tuple[str]]", query)
    return [decode(data.encode())[1] for (data,) in rows]


def read(topic: Topic, after: int, policy: HistoryPolicy, epoch: str) -> Batch:
    """What a reconnecting client is owed: the newest offset and the events
    after `after`. The newest offset is read first, so every event up to it
    is in the history unless the history has let it go."""
    latest = latest_offset(topic)
    not_before = utcnow() - timedelta(seconds=policy.ttl)
    events: list[Any]
    if topic[0] == "counter":
        first = latest - policy.size + 1  # the log is whole: bound it here
        events = CounterOperation.replay(topic[1], after, first, policy.size, not_before)
    else:
        events = recorded_after(topic, after, policy.size + TRIM_EVERY, not_before)
    stamped: list[object] = [dataclasses.replace(event, epoch=epoch) for event in events]
    return Batch(epoch, latest, stamped)


class DatabaseHistory:
    """`History` read from the database, in the epoch the models write with
    (`app.models.stream.keep_history_in_database`)."""

    def __init__(self, epoch: str, policy: HistoryPolicy) -> None:
        self.epoch_now = epoch
        self.policy = policy

    async def read(self, topic: Topic, after: int) -> Batch:
        return await in_database_thread(read, topic, after, self.policy, self.epoch_now)

    async def position(self, topic: Topic) -> Position:
        return Position(await in_database_thread(latest_offset, topic), self.epoch_now)

    async def epoch(self, topic: Topic) -> str:
        return self.epoch_now
