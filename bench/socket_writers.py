"""Writers over the counter socket (`/ws/counter/{name}`,
docs/contract/counter-ws.md): the second write path, besides POST /graphql.

Each writer opens one socket, waits for its snapshot, filters out every
broadcast event (`subscribe` with no operation types, so that writers do
not fan out each other's changes to one another: an HTTP writer does not
receive them either), then sends `increment` and the next one as soon as
its `incrementResult` is back, until the deadline. Only results count as
acknowledged; an `error` frame counts as a failure.
"""

from __future__ import annotations

import asyncio
import time

import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

INCREMENT = b'{"type":"increment"}'
SILENCE = b'{"type":"subscribe","filters":{"operationTypes":[]}}'


class Writer(WSListener):
    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        self.done = loop.create_future()
        self.deadline = 0.0
        self.ok = 0
        self.failed = 0

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            self._finish()
            return
        if frame.msg_type != WSMsgType.TEXT:
            return
        kind = orjson.loads(frame.get_payload_as_bytes()).get("type")
        if kind == "incrementResult":
            self.ok += 1
            self._next()
        elif kind == "error":
            self.failed += 1
            self._next()
        elif kind == "snapshot":
            transport.send(WSMsgType.TEXT, SILENCE)
        elif kind == "subscribed" and not self.ready.done():
            self.ready.set_result(True)

    def _next(self) -> None:
        if time.monotonic() < self.deadline:
            self.transport.send(WSMsgType.TEXT, INCREMENT)
        else:
            self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(True)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._finish()

    def start(self, deadline: float) -> None:
        self.deadline = deadline
        self._next()


async def hammer(base_url: str, counter: str, clients: int, seconds: float) -> tuple[int, int]:
    """(acknowledged, failed) increments from `clients` sockets in `seconds`."""
    url = "ws" + base_url.removeprefix("http") + f"/ws/counter/{counter}"
    writers: list[Writer] = []
    for _ in range(clients):
        _, writer = await ws_connect(Writer, url, websocket_handshake_timeout=30)
        writers.append(writer)
    await asyncio.wait_for(asyncio.gather(*(w.ready for w in writers)), 30)
    deadline = time.monotonic() + seconds
    for writer in writers:
        writer.start(deadline)
    # Each stops after its last answer; one that never answers is cut off.
    await asyncio.wait_for(asyncio.gather(*(w.done for w in writers)), seconds + 30)
    for writer in writers:
        writer.transport.disconnect()
    return sum(w.ok for w in writers), sum(w.failed for w in writers)
