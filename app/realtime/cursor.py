"""Where one subscriber is in one stream: each offset sent once, in order.

A subscriber that comes back with a position is caught up from the
history (app.realtime.history) while live events keep arriving. It has
started listening before reading the history, so that nothing falls
between the two; the price is that the live events must wait until the
replay is out (`hold`, then `release`), and that some of them may be in
the replay too. Those are dropped by offset: anything at or below the
newest offset sent is a duplicate.

A live event that does not follow the newest offset sent means that its
predecessor was lost on the way (its process died between commit and
publish, or Redis was away). The cursor says so (`Verdict.GAP`); the
caller decides whether and how to tell its client, before sending the
event.

One cursor per subscription, so it is kept small (two slots) and holds
no reference to the socket or the protocol: the callers, the counter
socket and the GraphQL live operations, say what to do with each verdict.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Verdict(enum.Enum):
    """What to do with one event offered to a cursor."""

    #: Send it: it follows the newest offset sent.
    SEND = "send"
    #: Drop it: it was sent already (in a snapshot, a replay, or live).
    DUPLICATE = "duplicate"
    #: Tell of the hole first, then send it: the offsets between were lost.
    GAP = "gap"
    #: Kept by the cursor until `release`: it is catching up.
    HELD = "held"


SEND = Verdict.SEND
DUPLICATE = Verdict.DUPLICATE
GAP = Verdict.GAP
HELD = Verdict.HELD

#: The offset of a cursor with no position yet: any event follows it.
NOWHERE = -1


class StreamCursor(Generic[T]):
    """The newest offset sent to one subscriber, and the live events
    (with whatever the caller sends for them, `T`) held while it catches
    up. Not thread-safe: used on the event loop only."""

    __slots__ = ("held", "offset")

    def __init__(self, offset: int = NOWHERE) -> None:
        #: The newest offset sent, or NOWHERE.
        self.offset = offset
        #: Live events waiting while the subscriber catches up, else None.
        self.held: list[tuple[int, T]] | None = None

    @property
    def holding(self) -> bool:
        return self.held is not None

    def hold(self) -> None:
        """Starts catching up: events offered now are kept until `release`."""
        self.held = []

    def start_at(self, offset: int) -> None:
        """Counts everything up to `offset` as sent (the client has it, from
        a snapshot, a replay or a notice)."""
        if offset > self.offset:
            self.offset = offset

    def accept(self, offset: int, item: T) -> Verdict:
        """The verdict on a live event at `offset`; `item` is kept if HELD.
        SEND and GAP move the cursor to `offset`: the caller must send it.
        A gap is seen only by a cursor that has a position."""
        held = self.held
        if held is not None:
            held.append((offset, item))
            return HELD
        last = self.offset
        if offset <= last:
            return DUPLICATE
        self.offset = offset
        return GAP if 0 <= last < offset - 1 else SEND

    def release(self, send: Callable[[T], None], gap: Callable[[int, T], None]) -> None:
        """Ends catching up: what was held goes to `send`, in order, each
        offset once; before one that does not follow the newest sent,
        `gap(its offset, it)`."""
        held, self.held = self.held, None
        for offset, item in held or ():
            verdict = self.accept(offset, item)
            if verdict is DUPLICATE:
                continue
            if verdict is GAP:
                gap(offset, item)
            send(item)

    def forget(self) -> None:
        """Ends catching up without sending: the subscription has ended."""
        self.held = None
