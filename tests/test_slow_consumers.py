"""Slow consumers against a real server process: 20 sockets that never read
while 30,000 events go out. The server's memory stays bounded (each stalled
socket is cut off at 1 MiB with 1013) and a healthy watcher gets every
event, once, in order."""

from __future__ import annotations

import asyncio

import orjson
import psutil
import pytest
from tornado.websocket import websocket_connect

from tests.processes import ServerProcess
from tests.test_writer import stalled_client

EVENTS = 30_000
STALLED = 20


def frames_until_closed(raw) -> int:
    """Reads a stalled client's backlog to the end: how many event frames
    (~330 bytes each) reached it before the server cut it off."""
    raw.settimeout(20)
    total = 0
    while chunk := raw.recv(65536):
        total += len(chunk)
    return total // 330


@pytest.mark.gen_test(timeout=120)
async def test_20_stalled_sockets_cost_the_server_well_under_50_mb(tmp_path):
    running = ServerProcess(tmp_path).spawn()
    port, process = running.port, running.process
    stalled = []
    try:
        await asyncio.to_thread(running.wait_healthy)
        server = psutil.Process(process.pid)
        name = "slow-" + "x" * 59  # the longest name: the largest frames
        url = f"ws://127.0.0.1:{port}/ws/counter/{name}"
        healthy = await websocket_connect(url)
        producer = await websocket_connect(url)
        for socket in (healthy, producer):
            await socket.read_message()  # snapshots
        stalled = [stalled_client(port, f"/ws/counter/{name}") for _ in range(STALLED)]
        await asyncio.sleep(0.5)
        baseline = server.memory_info().rss
        peak = baseline
        received: list[int] = []

        async def watch() -> None:
            while len(received) < EVENTS:
                message = orjson.loads(await asyncio.wait_for(healthy.read_message(), 30))
                if message["type"] == "increment":
                    received.append(message["value"])

        async def drain_producer() -> None:  # it watches too, and must not stall
            while True:
                if await producer.read_message() is None:
                    return

        watcher = asyncio.ensure_future(watch())
        drainer = asyncio.ensure_future(drain_producer())
        for sent in range(1, EVENTS + 1):
            await producer.write_message('{"type":"increment"}')
            if sent % 200 == 0:
                while len(received) < sent - 1000:  # a healthy watcher keeps up
                    await asyncio.sleep(0.005)
                peak = max(peak, server.memory_info().rss)
        await watcher
        peak = max(peak, server.memory_info().rss)

        assert received == list(range(1, EVENTS + 1))
        assert peak - baseline < 50 * 2**20, f"server grew by {(peak - baseline) / 2**20:.1f} MB"
        # Cut off part-way (the 1013 frame itself is checked in test_writer.py,
        # which reads the backlog as soon as the cut happens).
        seen = await asyncio.to_thread(frames_until_closed, stalled[0])
        assert 0 < seen < EVENTS
        healthy.close()
        producer.close()
        drainer.cancel()
    finally:
        for raw in stalled:
            raw.close()
        running.stop()
