"""SIGTERM: sockets closed with 1012, requests in flight finished, out in 10 s."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.websocket import websocket_connect

from tests.processes import ServerProcess


@pytest.mark.gen_test(timeout=30)
async def test_sigterm_closes_sockets_with_1012_and_finishes_requests_in_flight(tmp_path):
    server = ServerProcess(tmp_path).spawn()
    port, process, base = server.port, server.process, server.url
    client = AsyncHTTPClient(force_instance=True)
    try:
        await asyncio.to_thread(server.wait_healthy)
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
        output = server.stop()
    assert "stopping: closing 2 sockets, finishing 1 requests in flight" in output


async def _acknowledged(socket, kind: str) -> tuple[int, int | None]:
    """Reads a socket to its end: the results (frames of type `kind`) it
    got, and its close code."""
    answered = 0
    while (frame := await asyncio.wait_for(socket.read_message(), 10)) is not None:
        answered += json.loads(frame)["type"] == kind
    socket.close()
    return answered, socket.close_code


async def _value_after_restart(server: ServerProcess, name: str) -> int:
    """The counter's value as a fresh server reads it from the database."""
    server.spawn()  # the same port and data
    try:
        await asyncio.to_thread(server.wait_healthy)
        query = "query($n: String!) { counter(name: $n) { value } }"
        reply = await asyncio.to_thread(server.graphql, query, {"n": name})
    finally:
        server.stop()
    return reply["data"]["counter"]["value"]


@pytest.mark.gen_test(timeout=60)
async def test_every_counter_socket_increment_applied_before_sigterm_was_acknowledged(tmp_path):
    server = ServerProcess(tmp_path).spawn()
    port, process = server.port, server.process
    try:
        await asyncio.to_thread(server.wait_healthy)
        sockets = []
        for _ in range(4):
            socket = await websocket_connect(f"ws://127.0.0.1:{port}/ws/counter/busy")
            await socket.read_message()  # the snapshot
            sockets.append(socket)
        for _ in range(500):  # far more than can be applied before the signal
            for socket in sockets:
                await socket.write_message('{"type":"increment"}')
        # The first result is in: changes are being applied right now.
        while json.loads(await sockets[0].read_message())["type"] != "incrementResult":
            pass
        process.send_signal(signal.SIGTERM)
        outcomes = await asyncio.gather(*(_acknowledged(s, "incrementResult") for s in sockets))
        assert await asyncio.to_thread(process.wait, 10) == 0
    finally:
        output = server.stop()
    assert {code for _, code in outcomes} == {1012}
    assert "Traceback" not in output, output  # a clean stop is not an error
    acknowledged = 1 + sum(answered for answered, _ in outcomes)
    assert await _value_after_restart(server, "busy") == acknowledged


@pytest.mark.gen_test(timeout=60)
async def test_every_socket_mutation_applied_before_sigterm_was_answered(tmp_path):
    server = ServerProcess(tmp_path).spawn()
    port, process = server.port, server.process
    mutation = 'mutation { incrementCounter(name: "busier") { value } }'
    try:
        await asyncio.to_thread(server.wait_healthy)
        sockets = []
        for _ in range(3):
            socket = await websocket_connect(
                f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]
            )
            await socket.write_message('{"type":"connection_init"}')
            await socket.read_message()  # the ack
            sockets.append(socket)
        for number in range(100):  # all in flight at once, on each socket
            for socket in sockets:
                await socket.write_message(
                    json.dumps(
                        {"id": str(number), "type": "subscribe", "payload": {"query": mutation}}
                    )
                )
        while json.loads(await sockets[0].read_message())["type"] != "next":
            pass
        process.send_signal(signal.SIGTERM)
        outcomes = await asyncio.gather(*(_acknowledged(s, "next") for s in sockets))
        assert await asyncio.to_thread(process.wait, 10) == 0
    finally:
        server.stop()
    assert {code for _, code in outcomes} == {1012}
    answered = 1 + sum(count for count, _ in outcomes)
    assert await _value_after_restart(server, "busier") == answered
