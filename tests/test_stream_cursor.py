"""The stream cursor on its own: which offsets are sent, dropped, held,
and after which a gap is told, for sequences of hold/accept/release."""

from __future__ import annotations

import pytest

from app.realtime.cursor import NOWHERE, StreamCursor, Verdict


def play(cursor: StreamCursor[str], steps: list[object]) -> list[str]:
    """Runs `steps` on `cursor`: an int offers that offset live, "hold",
    "release", "forget", ("start", n). Returns what reached the client:
    "n" for the event at offset n, "gap<n" for a gap told before it."""
    out: list[str] = []

    def send(item: str) -> None:
        out.append(item)

    def gap(offset: int, item: str) -> None:
        assert item == str(offset)
        out.append(f"gap<{offset}")

    for step in steps:
        if isinstance(step, int):
            verdict = cursor.accept(step, str(step))
            if verdict is Verdict.GAP:
                gap(step, str(step))
            if verdict in (Verdict.SEND, Verdict.GAP):
                send(str(step))
        elif step == "hold":
            cursor.hold()
        elif step == "release":
            cursor.release(send, gap)
        elif step == "forget":
            cursor.forget()
        elif isinstance(step, tuple) and step[0] == "start":
            cursor.start_at(step[1])
        else:
            raise AssertionError(f"unknown step {step!r}")
    return out


@pytest.mark.parametrize(
    ("start", "steps", "sent"),
    [
        # Live, in order: each once.
        (NOWHERE, [1, 2, 3], ["1", "2", "3"]),
        # No position yet: the first event is no gap, whatever its offset.
        (NOWHERE, [7, 8], ["7", "8"]),
        # From a snapshot at 5: older and equal offsets were in it.
        (5, [4, 5, 6], ["6"]),
        # A repeat live is dropped.
        (5, [6, 6, 7], ["6", "7"]),
        # A hole: told once, before the event after it, then on.
        (5, [6, 8, 9], ["6", "gap<8", "8", "9"]),
        # A late event below the newest sent is dropped, not a gap.
        (5, [8, 7], ["gap<8", "8"]),
        # A position at 0 is a position: offset 2 after it is a gap.
        (0, [2], ["gap<2", "2"]),
        # Held while catching up: nothing goes out until release.
        (NOWHERE, ["hold", 1, 2], []),
        # Catch up from 3: replayed up to 5, live 5..7 held; 5 was replayed.
        (NOWHERE, ["hold", 5, 6, 7, ("start", 5), "release"], ["6", "7"]),
        # Everything held was replayed: nothing more is sent.
        (3, ["hold", 4, 5, ("start", 5), "release", 5], []),
        # A held event after a hole: the gap is told on release, before it.
        (3, ["hold", 6, 7, ("start", 4), "release"], ["gap<6", "6", "7"]),
        # A hole between two held events.
        (3, ["hold", 4, 6, "release"], ["4", "gap<6", "6"]),
        # Held events arrived out of order: the late one is dropped.
        (3, ["hold", 5, 4, "release"], ["gap<5", "5"]),
        # Releasing sends them in the order they were held, then live goes on.
        (0, ["hold", 1, 2, "release", 3], ["1", "2", "3"]),
        # Forgotten: what was held is gone, and later events pass again.
        (0, ["hold", 1, 2, "forget", 1], ["1"]),
        # start_at never moves the cursor back.
        (9, [("start", 4), 5, 10], ["10"]),
        # Release without hold sends nothing.
        (0, ["release", 1], ["1"]),
    ],
)
def test_a_cursor_sends_each_offset_once_in_order_and_tells_of_holes(
    start: int, steps: list[object], sent: list[str]
) -> None:
    assert play(StreamCursor(start), steps) == sent


def test_accept_names_each_verdict() -> None:
    cursor: StreamCursor[str] = StreamCursor(2)
    assert cursor.accept(3, "a") is Verdict.SEND
    assert cursor.accept(3, "a") is Verdict.DUPLICATE
    assert cursor.accept(5, "b") is Verdict.GAP
    assert cursor.offset == 5
    cursor.hold()
    assert cursor.holding
    assert cursor.accept(4, "c") is Verdict.HELD
    assert cursor.offset == 5  # held events do not move it
    cursor.forget()
    assert not cursor.holding


def test_a_cursor_is_two_slots_and_no_dict() -> None:
    """One per subscription: it must stay small on idle sockets."""
    cursor: StreamCursor[bytes] = StreamCursor()
    assert not hasattr(cursor, "__dict__")
    assert StreamCursor.__slots__ == ("held", "offset")
