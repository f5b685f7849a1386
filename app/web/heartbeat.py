"""Keep-alive pings for every open socket, from one timer.

Tornado's own pings (its `websocket_ping_interval` setting) run one task
per socket that sleeps between pings: a Task, its coroutine, a timer
handle and a Future that every idle connection holds for its whole life
(~1.3 KB of the ~20 KB an idle subscribed connection costs). Here one
periodic callback does the same for all of them, walking a wheel of
`SLOTS` slots: each socket sits in one slot, each slot is visited once
per interval, and a visit closes the sockets that did not answer the
ping sent at the previous visit ("ping timed out", as Tornado says) and
pings the others. So, as with Tornado's: a ping every interval, and a
socket whose pong has not come back one interval later is closed (the
ping timeout is the interval, Tornado's default). A visit pings about
1/SLOTS of the sockets, so the work is spread over the interval.

Runs on the IOLoop thread only.
"""

from __future__ import annotations

from typing import Protocol

from tornado.ioloop import PeriodicCallback
from tornado.iostream import StreamClosedError

#: Visits per interval: with 50,000 sockets and a 25 s interval, 500
#: pings every 250 ms.
SLOTS = 100
TIMED_OUT = "ping timed out"


class Pinged(Protocol):
    """A socket as the heartbeat sees it (app.web.base.BaseSocketHandler)."""

    #: Its slot in the wheel; set by `Heartbeat.add`.
    heartbeat_slot: int
    #: A ping was sent and its pong has not come back yet.
    awaiting_pong: bool

    def ping_now(self) -> bool:
        """Sends a ping; False when the socket is closed or closing."""

    def close(self, code: int | None = None, reason: str | None = None) -> None: ...


class Heartbeat:
    def __init__(self, interval: float) -> None:
        self.slots: list[dict[Pinged, None]] = [{} for _ in range(SLOTS)]
        self.turn = 0
        #: None when pings are off (an interval of 0).
        self.timer = PeriodicCallback(self.beat, interval * 1000 / SLOTS) if interval > 0 else None

    def start(self) -> None:
        if self.timer is not None:
            self.timer.start()

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.stop()

    def add(self, socket: Pinged) -> None:
        """Pings `socket` one interval from now, and every interval on."""
        slot = self.turn  # visited just now: next in a whole interval
        socket.heartbeat_slot = slot
        self.slots[slot][socket] = None

    def discard(self, socket: Pinged) -> None:
        slot = getattr(socket, "heartbeat_slot", None)
        if slot is not None:
            self.slots[slot].pop(socket, None)

    def beat(self) -> None:
        """One visit: the next slot's sockets are checked and pinged."""
        self.turn = (self.turn + 1) % SLOTS
        slot = self.slots[self.turn]
        for socket in tuple(slot):  # (closing one discards it)
            if socket.awaiting_pong:
                slot.pop(socket, None)
                socket.close(reason=TIMED_OUT)
                continue
            try:
                sent = socket.ping_now()
            except StreamClosedError:
                sent = False
            if sent:
                socket.awaiting_pong = True
            else:
                slot.pop(socket, None)  # closing: its on_close is on its way
