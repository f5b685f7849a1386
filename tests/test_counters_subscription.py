"""`subscription { counters }`: every counter's changes on one
subscription, for pages that list counters."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.websocket import websocket_connect

from app.realtime.counter_activity import ALL_COUNTERS
from tests.clients import open_graphql_socket

ALL = "subscription { counters { type value previousValue metadata { name operationCount } } }"


async def listening(registry, expected: int) -> None:
    for _ in range(100):
        if len(registry.subscribers(ALL_COUNTERS)) == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{expected} listeners expected on {ALL_COUNTERS}")


@pytest.mark.gen_test
async def test_changes_to_any_counter_arrive_in_order_without_a_stream_position(clients, registry):
    socket = await open_graphql_socket(clients)
    await socket.init()
    await socket.subscribe("all", ALL, extensions={"since": "now"})
    await listening(registry, 1)
    await clients.data('mutation { incrementCounter(name: "first-one", amount: 2) { value } }')
    await clients.data('mutation { setCounterValue(name: "second-one", value: 9) { value } }')
    await clients.data('mutation { decrementCounter(name: "first-one") { value } }')
    payloads = [await socket.next_payload("all") for _ in range(3)]
    assert [p["data"]["counters"] for p in payloads] == [
        {"type": "increment", "value": 2, "previousValue": 0,
         "metadata": {"name": "first-one", "operationCount": 1}},
        {"type": "setValue", "value": 9, "previousValue": 0,
         "metadata": {"name": "second-one", "operationCount": 1}},
        {"type": "decrement", "value": 1, "previousValue": 2,
         "metadata": {"name": "first-one", "operationCount": 2}},
    ]  # fmt: skip
    # Offsets count per counter: none is given here, and none is skipped.
    assert all("extensions" not in p for p in payloads)
    await socket.nothing_more()


@pytest.mark.gen_test
async def test_listening_to_every_counter_is_not_watching_any_and_ends_cleanly(clients, registry):
    socket = await open_graphql_socket(clients)
    await socket.init()
    await socket.subscribe("all", ALL)
    await listening(registry, 1)
    data = await clients.data('{ counter(name: "unwatched") { watchers } }')
    assert data["counter"]["watchers"] == 0
    await socket.send({"id": "all", "type": "complete"})
    await listening(registry, 0)
    assert ALL_COUNTERS not in registry.topics()


@pytest.mark.gen_test(timeout=60)
async def test_a_list_on_one_process_hears_counters_changed_through_another(pair):
    a, b = pair
    socket = await websocket_connect(a.ws + "/graphql", subprotocols=["graphql-transport-ws"])
    await socket.write_message(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await socket.read_message())["type"] == "connection_ack"
    subscribe = {"id": "all", "type": "subscribe", "payload": {"query": ALL}}
    await socket.write_message(json.dumps(subscribe))

    async def next_change(timeout: float) -> dict:
        message = json.loads(await asyncio.wait_for(socket.read_message(), timeout))
        assert message["id"] == "all", message
        assert message["type"] == "next", message
        return message["payload"]["data"]["counters"]

    # Nothing acknowledges a subscription: change a counter through B until
    # A's list hears of it (a bounded number of times).
    for _ in range(50):
        mutation = 'mutation { incrementCounter(name: "made-on-b") { value } }'
        await asyncio.to_thread(b.graphql, mutation)
        try:
            first = await next_change(0.2)
            break
        except TimeoutError:
            continue
    else:
        raise AssertionError("A never heard of a change made through B")
    assert first["metadata"]["name"] == "made-on-b"
    await asyncio.to_thread(
        b.graphql, 'mutation { setCounterValue(name: "also-b", value: 5) { value } }'
    )
    # Changes that were still on their way come first, each once and in order.
    counts = [first["metadata"]["operationCount"]]
    while True:
        change = await next_change(10)
        if change["metadata"]["name"] == "also-b":
            break
        counts.append(change["metadata"]["operationCount"])
    assert counts == list(range(counts[0], counts[0] + len(counts)))
    assert change == {"type": "setValue", "value": 5, "previousValue": 0,
                      "metadata": {"name": "also-b", "operationCount": 1}}  # fmt: skip
    socket.close()
