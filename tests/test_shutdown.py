"""SIGTERM: sockets closed with 1012, requests in flight finished, out in 10 s."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.websocket import websocket_connect

from tests.processes import free_port, start_server, stop, wait_healthy


@pytest.mark.gen_test(timeout=30)
async def test_sigterm_closes_sockets_with_1012_and_finishes_requests_in_flight(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_server(tmp_path, port)
    client = AsyncHTTPClient(force_instance=True)
    try:
        await asyncio.to_thread(wait_healthy, base, process)
        counter = await websocket_connect(f"ws://127.0.0.1:{port}/ws/counter/bye")
        await counter.read_message()  # the snapshot
        graphql = await websocket_connect(
            f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]
        )
        await graphql.write_message('{"type":"connection_init"}')
        await graphql.read_message()
        # A sign-up hashes its password for ~0.2 s: still in flight at SIGTERM.
        body = json.dumps(
            {"query": 'mutation { signUp(username: "late", password: "correct horse") { token } }'}
        )
        in_flight = client.fetch(
            base + "/graphql",
            method="POST",
            body=body,
            headers={"Content-Type": "application/json"},
            raise_error=False,
        )
        await asyncio.sleep(0.05)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)

        response = await in_flight
        assert response.code == 200
        assert "token" in json.loads(response.body)["data"]["signUp"]
        for socket in (counter, graphql):
            while await asyncio.wait_for(socket.read_message(), 10) is not None:
                pass
            assert socket.close_code == 1012
            socket.close()
        exit_code = await asyncio.to_thread(process.wait, 10)
        assert exit_code == 0
        assert time.monotonic() - started < 10
    finally:
        client.close()
        output = stop(process)
    assert "stopping: closing 2 sockets, finishing 1 requests in flight" in output
