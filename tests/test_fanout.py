"""Fan-out in slices and in batches, against the real server.

With a slice of one delivery (set for these tests), every publish reaches
its audience over many turns of the event loop: order must hold across
them, later publishes must queue behind, sockets closed meanwhile must be
skipped, and requests must be answered in between. A batch must reach
each socket in one write, seen by the client as one TCP segment.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import socket
import struct

import orjson
import pytest

from app import events
from app.clock import utcnow
from app.config import Settings
from app.events import CounterChanged, CounterSnapshot, counter_topic
from app.models.counter import Counter
from tests.clients import open_graphql_socket
from tests.waiting import until


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(fanout_slice=1)


def change(counter: CounterSnapshot, step: int) -> CounterChanged:
    """The counter's `step`-th next change (its next offsets, in order)."""
    changed = dataclasses.replace(
        counter, value=counter.value + step, operation_count=counter.operation_count + step
    )
    return CounterChanged("setValue", changed.value, changed.value - 1, changed, utcnow(), None)


def segments_received(raw: socket.socket) -> int:
    """TCP segments this socket has received (Linux `tcp_info.tcpi_segs_in`)."""
    info = raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return struct.unpack_from("I", info, 140)[0]


class RawSocket:
    """A WebSocket client on a plain socket, reading server frames itself."""

    def __init__(self, raw: socket.socket) -> None:
        self.raw = raw
        self.buffer = b""

    @classmethod
    async def open(cls, port: int, path: str, protocol: str = "") -> RawSocket:
        raw = socket.socket()
        raw.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(raw, ("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(
            raw,
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                + (f"Sec-WebSocket-Protocol: {protocol}\r\n" if protocol else "")
                + "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode(),
        )
        client = cls(raw)
        while b"\r\n\r\n" not in client.buffer:
            await client._fill()
        head, client.buffer = client.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        return client

    async def send(self, message: dict[str, object]) -> None:
        """One masked text frame (a zero mask: the payload as it is)."""
        payload = orjson.dumps(message)
        assert len(payload) < 126
        frame = bytes((0x81, 0x80 | len(payload))) + bytes(4) + payload
        await asyncio.get_running_loop().sock_sendall(self.raw, frame)

    async def _fill(self) -> None:
        chunk = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self.raw, 65536), 5)
        assert chunk, "the server closed the connection"
        self.buffer += chunk

    async def message(self) -> dict[str, object]:
        """The next text frame's JSON (server frames are unmasked)."""
        while True:
            if len(self.buffer) >= 4:
                assert self.buffer[0] == 0x81, self.buffer[:2]  # text, whole
                length, start = self.buffer[1], 2
                assert length < 127  # (no frame here is 64 KiB)
                if length == 126:
                    length, start = struct.unpack_from("!H", self.buffer, 2)[0], 4
                if len(self.buffer) >= start + length:
                    payload = self.buffer[start : start + length]
                    self.buffer = self.buffer[start + length :]
                    return orjson.loads(payload)
            await self._fill()

    async def event_values(self, count: int) -> list[object]:
        """The values of the next `count` events, passing over presence."""
        values: list[object] = []
        while len(values) < count:
            message = await self.message()
            if message["type"] == "presence":
                continue
            values.append(message["value"])
        return values

    async def subscription_values(self, count: int) -> list[object]:
        """The counter values of the next `count` `next` messages."""
        return [
            (await self.message())["payload"]["data"]["counter"]["value"]  # type: ignore[index]
            for _ in range(count)
        ]

    def close(self) -> None:
        self.raw.close()


@pytest.mark.gen_test(timeout=20)
async def test_a_batch_reaches_each_socket_in_one_tcp_segment(
    app, http_server, registry, http_port
):
    Counter.increment("batched")
    counter = Counter.lookup("batched").snapshot()
    plain = [await RawSocket.open(http_port, "/ws/counter/batched") for _ in range(2)]
    graphql = [
        await RawSocket.open(http_port, "/graphql", "graphql-transport-ws") for _ in range(2)
    ]
    sockets = plain + graphql
    try:
        for raw in plain:
            assert (await raw.message())["type"] == "snapshot"
        for raw in graphql:
            await raw.send({"type": "connection_init"})
            assert (await raw.message())["type"] == "connection_ack"
            query = 'subscription { counter(name: "batched") { value } }'
            await raw.send({"id": "1", "type": "subscribe", "payload": {"query": query}})
        groups = app.settings["services"].live.groups
        await until(
            lambda: (
                len(registry.subscribers(counter_topic("batched"))) == 3
                and sum(len(group.members) for group in groups.values()) == 2
            ),
            "every subscriber",
        )
        await asyncio.sleep(0.5)  # presence notices, sent as watchers arrive, come and go
        before = [segments_received(raw.raw) for raw in sockets]

        events.publish_all([change(counter, step) for step in range(1, 6)])

        values = [await raw.event_values(5) for raw in plain]
        values += [await raw.subscription_values(5) for raw in graphql]
        after = [segments_received(raw.raw) for raw in sockets]
    finally:
        for raw in sockets:
            raw.close()
    expected = [counter.value + step for step in range(1, 6)]
    assert values == [expected] * 4
    # Five frames each, in one write: one segment (five before batching).
    assert [b - a for a, b in zip(before, after, strict=True)] == [1] * 4


@pytest.mark.gen_test(timeout=30)
async def test_slices_keep_order_queue_later_publishes_and_skip_sockets_closed_meanwhile(
    app, clients, registry
):
    name = "sliced"
    Counter.increment(name)
    counter = Counter.lookup(name).snapshot()
    sockets = [await clients.counter_socket(name) for _ in range(8)]
    subscription = f'subscription {{ counter(name: "{name}") {{ value }} }}'
    watchers = []
    for n in range(4):
        watcher = await open_graphql_socket(clients)
        await watcher.init()
        await watcher.subscribe(str(n), subscription)
        watchers.append(watcher)
    groups = app.settings["services"].live.groups
    await until(
        lambda: sum(len(g.members) for g in groups.values()) == 4, "the subscriptions to join"
    )
    await until(lambda: len(registry.subscribers(counter_topic(name))) == 9, "every socket")
    await asyncio.sleep(0.5)  # presence notices settle (they are publishes too)
    await until(lambda: registry.pending == 0, "presence notices to be delivered")
    # The counter socket served last: sockets are served in the order they joined.
    port = sockets[-1].connection.protocol.stream.socket.getsockname()[1]
    (closing,) = (
        s
        for s in registry.subscribers(counter_topic(name))
        if not hasattr(s, "members")
        and s.transport.ws_connection.stream.socket.getpeername()[1] == port
    )

    events.publish(change(counter, 1))
    assert registry.pending == 1  # delivered in part: the rest waits for later turns
    # Mid-slices: the server closes the socket that has not had its turn yet,
    # and the next changes are published (one alone, two as a batch).
    closing.transport.close(1000, "bye")
    events.publish(change(counter, 2))
    events.publish_all([change(counter, 3), change(counter, 4)])
    assert registry.pending == 3

    expected = [counter.value + step for step in range(1, 5)]
    for client in sockets[:-1]:
        assert [(await client.receive())["value"] for _ in expected] == expected
    for n, watcher in enumerate(watchers):
        assert [
            (await watcher.next_payload(str(n)))["data"]["counter"]["value"] for _ in expected
        ] == expected
    # Closed before its turn came: not one of the events reached it.
    connection = sockets[-1].connection
    frames = []
    while (frame := await asyncio.wait_for(connection.read_message(), 5)) is not None:
        frames.append(orjson.loads(frame))
    assert [frame for frame in frames if frame["type"] != "presence"] == []
    assert (connection.close_code, connection.close_reason) == (1000, "bye")


async def pipelined(port: int, *requests: bytes) -> list[bytes]:
    """Sends `requests` in one write on one connection; the responses' bodies."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(requests))
    bodies = []
    for _ in requests:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        bodies.append(await reader.readexactly(length))
    writer.close()
    return bodies


def delivered(metrics_page: bytes) -> float:
    line = next(
        line
        for line in metrics_page.decode().splitlines()
        if line.startswith("live_messages_delivered_total ")
    )
    return float(line.split()[1])


@pytest.mark.gen_test(timeout=30)
async def test_a_request_is_answered_between_the_slices_of_a_publish(clients, registry, http_port):
    name = "between"
    sockets = [await clients.counter_socket(name) for _ in range(40)]
    await until(lambda: len(registry.subscribers(counter_topic(name))) == 40, "every socket")
    await sockets[-1].watchers(40)
    await asyncio.sleep(0.5)  # the last presence notices are delivered
    await until(lambda: registry.pending == 0, "presence notices to be delivered")
    before = delivered((await clients.fetch("/metrics")).body)
    body = orjson.dumps({"query": f'mutation {{ incrementCounter(name: "{name}") {{ value }} }}'})
    host = f"Host: 127.0.0.1:{http_port}\r\n".encode()

    mutation, metrics_page = await pipelined(
        http_port,
        b"POST /graphql HTTP/1.1\r\n" + host + b"Content-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
        b"GET /metrics HTTP/1.1\r\n" + host + b"\r\n",
    )

    assert orjson.loads(mutation) == {"data": {"incrementCounter": {"value": 1}}}
    # The request after the mutation was answered while the change was still
    # on its way: fewer than all 40 sockets had it.
    assert 1 <= delivered(metrics_page) - before < 40
    for client in sockets:
        assert (await client.receive())["value"] == 1
