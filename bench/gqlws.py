"""Many graphql-transport-ws subscribers in one process, on picows.

Each subscriber connects, sends connection_init, subscribes to one counter
and records, per event, the value it carried and when it arrived
(`time.monotonic_ns()`, which is system-wide on Linux, so receipt times are
comparable across processes). It also checks that values arrive exactly
once and in order.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bench.limits import bound_socket

SUBSCRIPTION = (
    "subscription($name: String!) { counter(name: $name) "
    "{ type value previousValue timestamp metadata { name operationCount } } }"
)


@dataclass
class Received:
    values: list[int] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Subscriber(WSListener):
    def __init__(self, counter: str, on_event) -> None:
        self.counter = counter
        self.on_event = on_event
        self.received = Received()
        self.acked = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        transport.send(WSMsgType.TEXT, b'{"type":"connection_init","payload":{}}')

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            if not self.closed.done():
                self.closed.set_result(frame.get_close_code())
            return
        if frame.msg_type != WSMsgType.TEXT:
            return
        now = time.monotonic_ns()
        message = orjson.loads(frame.get_payload_as_bytes())
        kind = message.get("type")
        if kind == "next":
            data = message["payload"].get("data")
            if data is None:
                self.received.errors.append(str(message["payload"].get("errors")))
                return
            value = data["counter"]["value"]
            self.received.values.append(value)
            self.received.times.append(now)
            self.on_event(value, now)
        elif kind == "connection_ack":
            variables = {"name": self.counter}
            subscribe = {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIPTION, "variables": variables},
            }
            transport.send(WSMsgType.TEXT, orjson.dumps(subscribe))
            if not self.acked.done():
                self.acked.set_result(True)
        elif kind == "ping":
            transport.send(WSMsgType.TEXT, b'{"type":"pong"}')
        elif kind == "error":
            self.received.errors.append(str(message.get("payload")))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def connect(url: str, counter: str, on_event, source: str | None = None) -> Subscriber:
    """One acknowledged subscriber; from loopback address `source` if given
    (bench.limits: large runs spread over several)."""
    _, subscriber = await ws_connect(
        lambda: Subscriber(counter, on_event),
        url,
        extra_headers={"Sec-WebSocket-Protocol": "graphql-transport-ws"},
        websocket_handshake_timeout=30,
        # Events are a few hundred bytes: picows' default 16 KiB per socket
        # would make the client, not the server, the limit at 50,000.
        read_buffer_init_size=2048,
        socket_factory=None if source is None else (lambda _url: bound_socket(source)),
    )
    await asyncio.wait_for(subscriber.acked, 30)
    return subscriber


def check_order(values: list[int], expected: list[int]) -> tuple[int, int, int]:
    """(lost, duplicated, out of order) against the expected sequence."""
    seen = set(values)
    lost = sum(1 for value in expected if value not in seen)
    duplicated = len(values) - len(seen)
    out_of_order = sum(1 for a, b in itertools.pairwise(values) if b <= a)
    return lost, duplicated, out_of_order
