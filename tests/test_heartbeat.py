"""Keep-alive pings (app/web/heartbeat.py): every open socket is pinged
each interval, one that does not answer is closed, and no socket runs a
ping task of its own."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from dataclasses import replace

import pytest

from app.config import Settings
from tests.clients import open_graphql_socket

INTERVAL = 0.3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, websocket_ping_interval=INTERVAL)


async def _raw_socket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket opened by hand, so that pings are seen and left unanswered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def _frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    return first & 0x0F, await reader.readexactly(length)


@pytest.mark.gen_test(timeout=20)
async def test_a_socket_that_does_not_answer_pings_is_closed(http_server, http_port):
    reader, writer = await _raw_socket(http_port)
    try:
        opcode, _ = await asyncio.wait_for(_frame(reader), 10 * INTERVAL)
        assert opcode == 0x9  # a ping, one interval after opening
        # Left unanswered: closed at the next round, with Tornado's reason.
        opcode, payload = await asyncio.wait_for(_frame(reader), 10 * INTERVAL)
        assert opcode == 0x8
        assert payload[2:] == b"ping timed out"
    finally:
        writer.close()


@pytest.mark.gen_test(timeout=20)
async def test_a_socket_that_answers_pings_stays_open_and_runs_no_ping_task(clients):
    socket = await open_graphql_socket(clients)
    await socket.init()
    pinged = []
    connection = socket.connection
    connection.on_ping = pinged.append  # type: ignore[method-assign]
    await asyncio.sleep(4 * INTERVAL)  # the client answers each ping itself
    assert len(pinged) >= 2
    await socket.send({"type": "ping"})
    assert (await socket.receive())["type"] == "pong"
    tasks = [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "").endswith("periodic_ping")
    ]
    assert tasks == []
