"""Recovery of missed events: what a reconnecting client is owed.

A client that kept the position (offset and epoch, see
`app.events.StreamEvent`) of the last event it saw on a stream may ask,
when it comes back, for everything after it. The answer comes from the
stream's bounded history, kept by one of two stores behind the `History`
interface: the database (app.realtime.database_history) or Redis
(app.realtime.redis_history).

The rule is all or nothing. The events after the position are sent only
if the history still holds every one of them, in the same epoch; if any is
gone (too old, trimmed, or the history itself was lost), the client is
told once to refetch instead, because a replay with a hole in it would
show a state that never existed.

Subscribers never miss the events that arrive while the history is being
read: they start listening first and hold live events back (see the
callers), then drop the ones the replay already covered by offset.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from app import metrics
from app.events import Topic, position_of

#: How long a resume waits for events committed, but not yet written to a
#: history that is written after the commit (Redis), before giving up.
SETTLE_SECONDS = 0.5
SETTLE_STEP = 0.05


class PositionError(ValueError):
    """A resume position that is not `{"offset": int >= 0, "epoch": str}`."""


@dataclass(frozen=True, slots=True)
class Position:
    offset: int
    epoch: str

    @classmethod
    def parse(cls, value: object) -> Position:
        """The position in a client's JSON, or a PositionError saying why not."""
        if not isinstance(value, dict):
            raise PositionError(
                'A position is an object: {"offset": <integer>, "epoch": <string>}.'
            )
        offset, epoch = value.get("offset"), value.get("epoch")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise PositionError(
                f"A position's `offset` is an integer of 0 or more; got {offset!r}."
            )
        if not isinstance(epoch, str) or len(epoch) > 64:
            raise PositionError(f"A position's `epoch` is a string; got {epoch!r}.")
        return cls(offset, epoch)

    def as_json(self) -> dict[str, object]:
        return {"offset": self.offset, "epoch": self.epoch}


@dataclass(frozen=True, slots=True)
class Batch:
    """One read of a stream's history."""

    epoch: str
    #: The newest offset the history knows of.
    top: int
    #: Recorded events after the offset asked for, oldest first.
    events: list[object]


class History(Protocol):
    async def read(self, topic: Topic, after: int) -> Batch:
        """The stream's epoch, newest offset and recorded events after `after`."""

    async def position(self, topic: Topic) -> Position:
        """Where the stream is now."""

    async def epoch(self, topic: Topic) -> str:
        """The epoch of the stream's history now."""


@dataclass(frozen=True, slots=True)
class Recovery:
    #: The missed events in order, or None: they cannot all be had.
    events: list[object] | None
    #: Where the stream was when the history was read.
    position: Position


#: Epochs named `from-<offset>` (app.realtime.redis_history.begun_at) are
#: histories begun after that offset, numbered by the database's offsets.
BEGUN_AFTER = "from-"


def same_numbering(history: str, client: str) -> bool:
    """Whether a client's position in epoch `client` can be served from a
    history in epoch `history`: the same epoch, or one begun no later.

    A reader told `from-3` (no history yet, the database at 3) while event
    3 was on its way to Redis, where it began the history as `from-2`, is
    at a place that history numbers alike; whether the events after it are
    all there, `missed` checks. A history begun later than the client's
    (`from-9` for a client of `from-3`) replaced a lost one: refused."""
    if history == client:
        return True
    if not (history.startswith(BEGUN_AFTER) and client.startswith(BEGUN_AFTER)):
        return False
    try:
        return int(history.removeprefix(BEGUN_AFTER)) <= int(client.removeprefix(BEGUN_AFTER))
    except ValueError:
        return False


def missed(batch: Batch, since: Position, until: int) -> list[object] | None:
    """The events after `since` up to `until`, if `batch` holds every one
    of them; else None. (Later ones are left to live delivery.)"""
    if not same_numbering(batch.epoch, since.epoch) or since.offset > until:
        return None
    found: list[object] = []
    expected = since.offset + 1
    for event in batch.events:
        if expected > until or position_of(event) != expected:
            break
        found.append(event)
        expected += 1
    return found if expected > until else None


async def recover(
    history: History, topic: Topic, since: Position, until: int | None = None
) -> Recovery:
    """What a client at `since` missed, up to `until` (default: the newest
    offset the history knows). Waits briefly for a history that is behind
    `until`, since events are written to Redis just after their commit."""
    waited = 0.0
    while True:
        batch = await history.read(topic, since.offset)
        target = batch.top if until is None else until
        events = missed(batch, since, target)
        # Not yet written, or written out of order by two processes (Redis
        # is written just after each commit): worth a moment's wait. A
        # history that starts after `since` only grows older: not worth it.
        behind = same_numbering(batch.epoch, since.epoch) and (
            batch.top < target
            or (events is None and bool(batch.events) and _starts_at(batch, since.offset + 1))
        )
        if events is not None or not behind or waited >= SETTLE_SECONDS:
            metrics.resumes.labels("reset" if events is None else "recovered").inc()
            metrics.replayed_events.inc(len(events or ()))
            return Recovery(events, Position(max(batch.top, target), batch.epoch))
        await asyncio.sleep(SETTLE_STEP)
        waited += SETTLE_STEP


def _starts_at(batch: Batch, offset: int) -> bool:
    return position_of(batch.events[0]) == offset


def count_gap(shared: dict[object, object]) -> None:
    """Counts, once per publish however many subscribers it reaches, an
    event that came after a hole in its stream (its predecessor was lost)."""
    if _GAP_SEEN not in shared:
        shared[_GAP_SEEN] = True
        metrics.stream_gaps.inc()


_GAP_SEEN = "stream-gap-seen"
