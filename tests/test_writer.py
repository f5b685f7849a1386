"""The socket writer: the Tornado internals it reads, and the 1 MiB bound."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import socket
import struct

import pytest
from prometheus_client import REGISTRY
from tornado.iostream import IOStream

from app import events
from app.clock import utcnow
from app.events import CounterChanged, counter_topic
from app.models.counter import Counter
from app.realtime import writer


@pytest.mark.gen_test
async def test_the_tornado_internals_the_writer_reads_are_still_there(clients, registry):
    # If this fails, Tornado moved `ws_connection.stream._write_buffer`:
    # re-read app/realtime/writer.py against the new version before upgrading.
    await clients.counter_socket("internals")
    (session,) = registry.subscribers(counter_topic("internals"))
    handler = session.transport
    connection = handler.ws_connection
    stream = connection.stream
    assert type(stream) is IOStream  # plain TCP: the send() fast path applies
    assert hasattr(stream.socket, "send")
    assert hasattr(stream, "_write_buffer")
    assert isinstance(stream._total_write_index, int)
    assert connection._compressor is None  # frames are written uncompressed
    assert len(stream._write_buffer) == writer.pending_bytes(handler) == 0


def stalled_client(port: int, path: str) -> socket.socket:
    """A WebSocket client that upgrades, then never reads again."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    return raw


def read_until_close_frame(raw: socket.socket) -> tuple[int, str, int]:
    """Reads a stalled client's backlog: (close code, reason, events seen)."""
    raw.settimeout(10)
    buffer = b""

    def take(count: int) -> bytes:
        nonlocal buffer
        while len(buffer) < count:
            chunk = raw.recv(65536)
            assert chunk, "stream ended before a close frame"
            buffer += chunk
        data, buffer = buffer[:count], buffer[count:]
        return data

    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += take(1)
    assert head.startswith(b"HTTP/1.1 101")
    seen = 0
    while True:
        first, second = take(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", take(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", take(8))[0]
        payload = take(length)
        if first & 0x0F == 0x8:
            return struct.unpack("!H", payload[:2])[0], payload[2:].decode(), seen
        seen += 1


@pytest.mark.parametrize("batch", [1, 100])
@pytest.mark.gen_test(timeout=60)
async def test_20_sockets_that_stop_reading_are_closed_with_1013_and_others_get_all(
    clients, registry, http_port, batch
):
    name = "slow-" + "x" * 59  # the longest name: the largest frames
    Counter.increment(name)
    counter = Counter.lookup(name).snapshot()
    stalled = [stalled_client(http_port, f"/ws/counter/{name}") for _ in range(20)]
    healthy = await clients.counter_socket(name)
    for _ in range(200):
        if len(registry.subscribers(counter_topic(name))) == 21:
            break
        await asyncio.sleep(0.02)
    assert len(registry.subscribers(counter_topic(name))) == 21
    # Which server handler serves which stalled client, by the client's port.
    by_port = {raw.getsockname()[1]: raw for raw in stalled}
    handler_of = {
        session: by_port[session.transport.ws_connection.stream.socket.getpeername()[1]]
        for session in registry.subscribers(counter_topic(name))
        if session.transport.ws_connection.stream.socket.getpeername()[1] in by_port
    }
    assert len(handler_of) == 20
    disconnects_before = REGISTRY.get_sample_value("live_slow_consumer_disconnects_total") or 0
    readers: dict[socket.socket, asyncio.Future] = {}

    def read_the_cut_off() -> None:
        # A cut-off client must read its backlog soon: Tornado abandons a
        # closing connection whose client does not answer within 5 s.
        current = registry.subscribers(counter_topic(name))
        for handler, raw in handler_of.items():
            if handler not in current and raw not in readers:
                readers[raw] = asyncio.ensure_future(asyncio.to_thread(read_until_close_frame, raw))

    received: list[int] = []

    async def read_all(count: int) -> None:
        while len(received) < count:
            received.append((await healthy.receive(timeout=10))["value"])

    total = 30_000
    pending: list[CounterChanged] = []
    reader = asyncio.ensure_future(read_all(total))
    try:
        for value in range(1, total + 1):
            # Each change is the counter's next operation, so its next offset.
            changed = dataclasses.replace(
                counter, value=value, operation_count=counter.operation_count + value
            )
            pending.append(
                CounterChanged("setValue", value, value - 1, changed, utcnow(), actor=None)
            )
            if len(pending) < batch:
                continue
            events.publish_all(pending)  # one batch: written to each socket at once
            pending = []
            # The healthy client shares this process's loop: give it turns to
            # keep within 500 events, as a client on its own machine would.
            while len(received) < value - 500:
                await asyncio.sleep(0.001)
            if value % 100 == 0:
                read_the_cut_off()
        await reader
        read_the_cut_off()
        closes = await asyncio.gather(*readers.values())
    finally:
        for raw in stalled:
            raw.close()

    assert received == list(range(1, total + 1))  # every event, once, in order
    # Every stalled socket was cut off with 1013 part-way; the healthy one stays.
    assert len(closes) == 20
    for code, reason, seen in closes:
        assert code == writer.TRY_AGAIN_LATER
        assert "reconnect" in reason
        assert 0 < seen < total
    assert len(registry.subscribers(counter_topic(name))) == 1
    disconnects = REGISTRY.get_sample_value("live_slow_consumer_disconnects_total")
    assert disconnects - disconnects_before == 20  # each counted once, for /metrics
