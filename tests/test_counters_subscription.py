"""`subscription { counters }`: every counter's changes on one
subscription, for pages that list counters."""

from __future__ import annotations

import asyncio

import pytest

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
