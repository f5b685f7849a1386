"""Redis holds keys for events, not for curiosity: watching or reading
counters that have no events leaves no key behind, so random names cannot
fill Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest
import redis

from tests.clients import GraphQLSocket
from tests.cluster import Process

NAMES = 200


@pytest.fixture
def cluster_env() -> dict[str, str]:
    # Presence keys then outlive the test unless deleted when watchers leave.
    return {"PRESENCE_TTL": "600"}


def keys(server) -> set[bytes]:
    with redis.Redis(port=server.port) as client:
        return set(client.scan_iter(count=1000))


async def wait_for_keys(server, done: Callable[[set[bytes]], bool]) -> set[bytes]:
    """The keys in Redis once `done(keys)` holds (or after 10 s)."""
    deadline = time.monotonic() + 10
    while not done(found := keys(server)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return found


async def watch_and_read(a: Process, b: Process, subscriber: GraphQLSocket, name: str) -> None:
    """Watches `name` on a counter socket and resumes there, subscribes to
    it asking for its position, and reads it over HTTP."""
    await subscriber.subscribe(
        name, f'subscription {{ counter(name: "{name}") {{ value }} }}', extensions={"since": "now"}
    )
    counter = await a.counter_socket(name)
    await counter.send({"type": "resume", "offset": 0, "epoch": counter.snapshot["epoch"]})
    await counter.send({"type": "ping"})
    await counter.receive_type("pong")
    counter.close()
    reply = await b.graphql_async(
        "query($n: String!) { counter(name: $n) { value watchers } }", {"n": name}
    )
    assert reply["data"]["counter"]["value"] == 0


@pytest.mark.gen_test(timeout=120)
async def test_200_counters_watched_and_read_but_never_changed_leave_no_redis_key(
    pair, redis_server
):
    a, b = pair
    before = keys(redis_server)
    subscriber = await b.graphql_socket()
    names = [f"idle-{uuid.uuid4().hex[:12]}" for _ in range(NAMES)]
    for batch in range(0, NAMES, 20):
        some = names[batch : batch + 20]
        await asyncio.gather(*(watch_and_read(a, b, subscriber, name) for name in some))
        notices = [(await subscriber.receive())["payload"] for _ in some]
        assert [notice["extensions"]["stream"]["offset"] for notice in notices] == [0] * 20
        for name in some:
            await subscriber.send({"id": name, "type": "complete"})
    subscriber.close()

    assert await wait_for_keys(redis_server, lambda found: found == before) == before

    # An event is what makes a stream's keys.
    await a.graphql_async('mutation { incrementCounter(name: "changed") { value } }')
    stream = {b"live:{counter:changed}:meta", b"live:{counter:changed}:history"}
    assert stream <= await wait_for_keys(redis_server, lambda found: stream <= found)
