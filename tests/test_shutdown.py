"""SIGTERM: sockets closed with 1012, requests in flight finished, out in 10 s."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest
from tornado.httpclient import AsyncHTTPClient
from tornado.websocket import websocket_connect

from tests.processes import free_port, post_graphql, start_server, stop, wait_healthy


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


async def _acknowledged(socket, kind: str) -> tuple[int, int | None]:
    """Reads a socket to its end: the results (frames of type `kind`) it
    got, and its close code."""
    answered = 0
    while (frame := await asyncio.wait_for(socket.read_message(), 10)) is not None:
        answered += json.loads(frame)["type"] == kind
    socket.close()
    return answered, socket.close_code


async def _value_after_restart(tmp_path, port: int, name: str) -> int:
    """The counter's value as a fresh server reads it from the database."""
    base = f"http://127.0.0.1:{port}"
    process = start_server(tmp_path, port)
    try:
        await asyncio.to_thread(wait_healthy, base, process)
        query = "query($n: String!) { counter(name: $n) { value } }"
        reply = await asyncio.to_thread(post_graphql, base, query, {"n": name})
    finally:
        stop(process)
    return reply["data"]["counter"]["value"]


@pytest.mark.gen_test(timeout=60)
async def test_every_counter_socket_increment_applied_before_sigterm_was_acknowledged(tmp_path):
    port = free_port()
    process = start_server(tmp_path, port)
    try:
        await asyncio.to_thread(wait_healthy, f"http://127.0.0.1:{port}", process)
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
        stop(process)
    assert {code for _, code in outcomes} == {1012}
    acknowledged = 1 + sum(answered for answered, _ in outcomes)
    assert await _value_after_restart(tmp_path, port, "busy") == acknowledged


@pytest.mark.gen_test(timeout=60)
async def test_every_socket_mutation_applied_before_sigterm_was_answered(tmp_path):
    port = free_port()
    process = start_server(tmp_path, port)
    mutation = 'mutation { incrementCounter(name: "busier") { value } }'
    try:
        await asyncio.to_thread(wait_healthy, f"http://127.0.0.1:{port}", process)
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
        stop(process)
    assert {code for _, code in outcomes} == {1012}
    answered = 1 + sum(count for count, _ in outcomes)
    assert await _value_after_restart(tmp_path, port, "busier") == answered
