"""Overload: 2,000 sockets opened in a burst are each accepted (and work)
or refused cleanly; the server neither crashes nor leaves a handler stuck."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from tests.processes import ServerProcess

BURST = 2000


@pytest.mark.gen_test(timeout=120)
async def test_2000_sockets_in_a_burst_are_accepted_or_refused_cleanly(tmp_path):
    server = ServerProcess(tmp_path).spawn()
    sockets = []
    try:
        await asyncio.to_thread(server.wait_healthy)
        url = f"{server.ws}/ws/counter/burst"

        async def one():
            try:
                socket = await connect(url, open_timeout=30, ping_interval=None)
            except (OSError, InvalidHandshake, TimeoutError) as refusal:
                return refusal
            snapshot = orjson.loads(await asyncio.wait_for(socket.recv(), 30))
            assert snapshot["type"] == "snapshot"
            return socket

        outcomes = await asyncio.gather(*(one() for _ in range(BURST)))
        sockets = [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]
        refused = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        assert len(sockets) + len(refused) == BURST
        assert len(sockets) >= BURST * 0.9, f"{len(refused)} refused: {refused[:3]}"

        # Every accepted socket works: one change reaches all of them.
        await sockets[0].send('{"type":"increment"}')
        values = await asyncio.gather(*(_next_value(socket) for socket in sockets))
        assert set(values) == {1}
        assert server.process.poll() is None
        for socket in sockets:
            await socket.close()
        sockets = []
        # Still serving, and nothing left behind blocks a newcomer.
        await asyncio.to_thread(server.wait_healthy)
        async with connect(url) as late:
            assert orjson.loads(await asyncio.wait_for(late.recv(), 10))["value"] == 1
    finally:
        for socket in sockets:
            with contextlib.suppress(WebSocketException):
                await socket.close()
        server.stop()


async def _next_value(socket) -> int:
    while True:
        message = orjson.loads(await asyncio.wait_for(socket.recv(), 30))
        if message["type"] == "increment":
            return message["value"]
