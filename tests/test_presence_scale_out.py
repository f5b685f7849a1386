"""Presence across two server processes joined by one Redis (and one
PostgreSQL, so that a user's token works on both): counts add up, go
down, and a killed process's watchers expire."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

import pytest
from tornado.websocket import websocket_connect

from tests.clients import CounterSocket
from tests.cluster import Process, wait_connected

#: Short, so that expiry is quick to see; renewals every TTL/3 = 1 s.
TTL = "3"
WATCHERS = "query($n: String!) { counter(name: $n) { watchers } }"


@pytest.fixture
def cluster_env() -> dict[str, str]:
    return {"PRESENCE_TTL": TTL}


async def watchers(process: Process, name: str) -> int:
    """Counter.watchers over HTTP, as that process answers it."""
    data = await process.graphql_async(WATCHERS, {"n": name})
    return data["data"]["counter"]["watchers"]


async def eventually(check, expected, timeout: float = 10.0):
    """Polls an async `check` until it returns `expected`."""
    deadline = time.monotonic() + timeout
    while (value := await check()) != expected:
        assert time.monotonic() < deadline, f"still {value!r}, expected {expected!r}"
        await asyncio.sleep(0.1)


@pytest.mark.gen_test(timeout=60)
async def test_watchers_add_up_and_go_down_across_two_processes(pair):
    a, b = pair
    on_a = await a.counter_socket("spread")
    await on_a.watchers(1)
    on_b = await b.counter_socket("spread")
    await on_b.watchers(2)
    await on_a.watchers(2)
    assert await watchers(a, "spread") == 2
    assert await watchers(b, "spread") == 2

    second_on_b = await b.counter_socket("spread")
    await on_a.watchers(3)
    second_on_b.close()
    on_b.close()
    assert (await on_a.watchers(1))[-1] == 1
    await eventually(lambda: watchers(b, "spread"), 1)
    on_a.close()
    await eventually(lambda: watchers(b, "spread"), 0)


@pytest.mark.gen_test(timeout=60)
async def test_a_users_tabs_add_up_across_processes_and_stay_theirs(pair):
    a, b = pair
    signed = await asyncio.to_thread(
        a.graphql, 'mutation { signUp(username: "roaming", password: "correct horse") { token } }'
    )
    token = signed["data"]["signUp"]["token"]
    other = await asyncio.to_thread(
        b.graphql, 'mutation { signUp(username: "stranger", password: "correct horse") { token } }'
    )
    other_token = other["data"]["signUp"]["token"]

    tab = CounterSocket(
        await websocket_connect(a.ws + "/graphql", subprotocols=["graphql-transport-ws"])
    )
    await tab.send({"type": "connection_init", "payload": {"token": token}})
    assert (await tab.receive())["type"] == "connection_ack"
    query = "subscription { libraryPresence { tabs } }"
    await tab.send({"id": "t", "type": "subscribe", "payload": {"query": query}})

    async def tabs_until(expected: int) -> None:
        while True:
            message = await tab.receive(10)
            assert message["id"] == "t", message
            if message["payload"]["data"]["libraryPresence"]["tabs"] == expected:
                return

    await tabs_until(1)
    elsewhere = await b.counter_socket("anything", token=token)
    await tabs_until(2)
    strangers = await b.counter_socket("anything", token=other_token)
    await tab.nothing_more(1.0)  # someone else's tab is not ours
    elsewhere.close()
    await tabs_until(1)
    strangers.close()
    tab.close()


@pytest.mark.gen_test(timeout=90)
async def test_a_killed_processs_watchers_expire(pair):
    a, b = pair
    survivor = await a.counter_socket("crash")
    await survivor.watchers(1)
    doomed = [await b.counter_socket("crash") for _ in range(2)]
    await survivor.watchers(3)
    assert await watchers(a, "crash") == 3

    b.process.send_signal(signal.SIGKILL)  # no clean-up: its entries stay in Redis
    b.process.wait(10)
    # Within about the TTL (3 s) plus a renewal, the ghosts are gone for
    # everyone; the bound here is generous, the point is that they go.
    await survivor.watchers(1, timeout=20)
    assert await watchers(a, "crash") == 1
    for socket in doomed:
        socket.close()
    survivor.close()


@pytest.mark.gen_test(timeout=90)
async def test_without_redis_a_process_counts_its_own_and_catches_up_when_it_returns(
    tmp_path, postgres, private_redis
):
    redis_server = private_redis
    database = postgres.create_database(f"t_{uuid.uuid4().hex[:10]}")
    a = Process(tmp_path / "a", database, redis_server.url, {"PRESENCE_TTL": TTL})
    b = Process(tmp_path / "b", database, redis_server.url, {"PRESENCE_TTL": TTL})
    output = ""
    try:
        for process in (a, b):
            await asyncio.to_thread(wait_connected, process)
        on_a = await a.counter_socket("outage")
        on_b = await b.counter_socket("outage")
        await on_a.watchers(2)

        redis_server.stop()
        # Still serving: a new watcher on A is counted, by A alone.
        second_on_a = await a.counter_socket("outage")
        await on_a.watchers(2, timeout=20)  # 2 of A's own, B's unreachable
        assert await watchers(a, "outage") == 2

        redis_server.start()  # empty: every process writes its counts again
        await on_a.watchers(3, timeout=20)
        await on_b.watchers(3, timeout=20)
        second_on_a.close()
        await on_b.watchers(2)
        for socket in (on_a, on_b):
            socket.close()
    finally:
        output = a.stop()
        b.stop()
    assert output.count("presence cannot reach Redis") == 1, output
    assert "presence reached Redis again" in output
