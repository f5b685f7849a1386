"""Presence in one process: watchers of a counter and a user's tabs, as
sockets and subscriptions come and go (Redis and several processes:
test_presence_scale_out.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.events import counter_topic
from tests.clients import Clients, GraphQLSocket, bearer, open_graphql_socket, sign_up

WATCHERS = "query($n: String!) { counter(name: $n) { watchers } }"
COUNTER_PRESENCE = "subscription($n: String!) { counterPresence(name: $n) { name watchers } }"
LIBRARY_PRESENCE = "subscription { libraryPresence { tabs } }"


async def graphql_socket(clients: Clients, token: str | None = None) -> GraphQLSocket:
    socket = await open_graphql_socket(clients, headers=bearer(token) if token else None)
    await socket.init()
    return socket


async def next_for(socket: GraphQLSocket, op_id: str, timeout: float = 5.0) -> dict:
    """The data of the next `next` message for `op_id` (other ids skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        message = await socket.receive(max(0.0, deadline - time.monotonic()))
        if message.get("id") == op_id:
            assert message["type"] == "next", message
            return message["payload"]["data"]


async def values_until(socket: GraphQLSocket, op_id: str, field: str, key: str, expected: int):
    """Every value of `field.key` received for `op_id` until one equals `expected`."""
    seen = []
    while not seen or seen[-1] != expected:
        seen.append((await next_for(socket, op_id))[field][key])
    return seen


async def settled(app, timeout: float = 5.0) -> None:
    """Waits until nothing is registered or counted any more: closed
    sockets leave no topic, subscriber or count behind."""
    services = app.settings["services"]
    deadline = time.monotonic() + timeout
    while services.registry.topics() or services.presence.local:
        assert time.monotonic() < deadline, (services.registry.topics(), services.presence.local)
        await asyncio.sleep(0.02)
    # The last notices go out within the throttle; then nothing is kept.
    while True:
        services.presence.forget_idle()
        if services.presence.state() == {"local": 0, "members": 0, "followed": 0, "notices": 0}:
            return
        assert time.monotonic() < deadline, services.presence.state()
        await asyncio.sleep(0.05)


@pytest.mark.gen_test
async def test_watchers_go_up_and_down_as_counter_sockets_open_and_close(clients, app):
    first = await clients.counter_socket("seen")
    assert await first.watchers(1) == [1]
    second = await clients.counter_socket("seen")
    assert (await second.watchers(2))[0] == 2  # right after its snapshot: the current number
    await first.watchers(2)
    third = await clients.counter_socket("seen")
    await first.watchers(3)
    third.close()
    second.close()
    assert (await first.watchers(1))[-1] == 1
    # Another counter's watchers are not these.
    elsewhere = await clients.counter_socket("unseen")
    await elsewhere.watchers(1)
    await first.nothing_more(0.4)
    assert first.presence[-1] == 1
    first.close()
    elsewhere.close()
    await settled(app)


@pytest.mark.gen_test
async def test_the_first_frame_after_the_snapshot_is_the_current_presence(clients):
    socket = await clients.counter_socket("prompt", snapshot=False)
    snapshot = await socket.connection.read_message()
    presence = await socket.connection.read_message()
    assert '"snapshot"' in snapshot
    assert presence == '{"type":"presence","watchers":1}'
    socket.close()


@pytest.mark.gen_test
async def test_counter_subscriptions_count_as_watchers_and_counter_presence_does_not(clients, app):
    plain = await clients.counter_socket("mixed")
    await plain.watchers(1)
    socket = await graphql_socket(clients)
    await socket.subscribe("p", COUNTER_PRESENCE, {"n": "mixed"})
    assert await next_for(socket, "p") == {"counterPresence": {"name": "mixed", "watchers": 1}}
    await socket.subscribe(
        "c", "subscription($n: String!) { counter(name: $n) { value } }", {"n": "mixed"}
    )
    assert await values_until(socket, "p", "counterPresence", "watchers", 2) == [2]
    await plain.watchers(2)
    await socket.send({"id": "c", "type": "complete"})
    assert await values_until(socket, "p", "counterPresence", "watchers", 1) == [1]
    await plain.watchers(1)
    plain.close()
    assert await values_until(socket, "p", "counterPresence", "watchers", 0) == [0]
    socket.close()
    await settled(app)


@pytest.mark.gen_test
async def test_counter_watchers_over_http(clients, app):
    assert await clients.data(WATCHERS, {"n": "asked"}) == {"counter": {"watchers": 0}}
    sockets = [await clients.counter_socket("asked") for _ in range(2)]
    socket = await graphql_socket(clients)
    await socket.subscribe("c", 'subscription { counter(name: "asked") { value } }')
    await sockets[0].watchers(3)
    assert await clients.data(WATCHERS, {"n": "asked"}) == {"counter": {"watchers": 3}}
    socket.close()
    for plain in sockets:
        plain.close()
    await settled(app)
    assert await clients.data(WATCHERS, {"n": "asked"}) == {"counter": {"watchers": 0}}


@pytest.mark.gen_test(timeout=30)
async def test_a_burst_of_20_connects_yields_few_notices_and_the_right_final_value(clients, app):
    interval = app.settings["services"].settings.presence_notice_interval
    observer = await clients.counter_socket("burst")
    await observer.watchers(1)
    await asyncio.sleep(interval)  # the observer's own notice is out of the way
    observer.presence.clear()
    started = time.monotonic()
    burst = await asyncio.gather(*(clients.counter_socket("burst") for _ in range(20)))
    await observer.watchers(21)
    elapsed = time.monotonic() - started
    await observer.nothing_more(interval * 2)  # nothing trails the final value
    frames = observer.presence
    assert frames[-1] == 21
    assert frames == sorted(frames)
    # At most one notice per interval, plus the leading edge.
    assert len(frames) <= 2 + elapsed / interval, (frames, elapsed)
    assert len(frames) < 20
    for socket in burst:
        socket.close()
    assert (await observer.watchers(1))[-1] == 1
    observer.close()
    await settled(app)


@pytest.mark.gen_test
async def test_library_presence_counts_the_users_own_tabs_only(clients, app):
    alice = await sign_up(clients, "alice")
    bob = await sign_up(clients, "bob")
    alice_tab = await graphql_socket(clients, alice)
    await alice_tab.subscribe("t", LIBRARY_PRESENCE)
    assert await next_for(alice_tab, "t") == {"libraryPresence": {"tabs": 1}}
    bob_tab = await graphql_socket(clients, bob)
    await bob_tab.subscribe("t", LIBRARY_PRESENCE)
    assert await next_for(bob_tab, "t") == {"libraryPresence": {"tabs": 1}}

    # Either kind of socket is a tab; anonymous ones are nobody's.
    counter_tab = await clients.counter_socket("where", token=alice)
    assert await values_until(alice_tab, "t", "libraryPresence", "tabs", 2) == [2]
    second = await graphql_socket(clients, alice)
    assert await values_until(alice_tab, "t", "libraryPresence", "tabs", 3) == [3]
    anonymous = await graphql_socket(clients)
    second.close()
    assert await values_until(alice_tab, "t", "libraryPresence", "tabs", 2) == [2]
    await bob_tab.nothing_more(0.5)  # Bob never hears Alice's count

    counter_tab.close()
    anonymous.close()
    alice_tab.close()
    bob_tab.close()
    await settled(app)


@pytest.mark.gen_test
async def test_a_socket_signed_in_at_connection_init_counts_as_a_tab(clients):
    token = await sign_up(clients, "late_init")
    tab = await graphql_socket(clients, token)
    await tab.subscribe("t", LIBRARY_PRESENCE)
    assert await next_for(tab, "t") == {"libraryPresence": {"tabs": 1}}
    later = await open_graphql_socket(clients)
    await later.init({"token": token})
    assert await values_until(tab, "t", "libraryPresence", "tabs", 2) == [2]
    later.close()
    tab.close()


@pytest.mark.gen_test
async def test_library_presence_without_signing_in_is_unauthenticated(clients):
    socket = await graphql_socket(clients)
    await socket.subscribe("t", LIBRARY_PRESENCE)
    message = await socket.receive()
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    socket.close()


@pytest.mark.gen_test
async def test_presence_never_rides_the_counter_subscription_or_the_library_channel(
    clients, registry
):
    token = await sign_up(clients, "quiet")
    socket = await graphql_socket(clients, token)
    await socket.subscribe("c", 'subscription { counter(name: "quiet") { __typename } }')
    await socket.subscribe("l", 'subscription { channel(name: "library") { __typename } }')
    for _ in range(50):
        if registry.subscribers(counter_topic("quiet")):
            break
        await asyncio.sleep(0.01)
    others = [await clients.counter_socket("quiet", token=token) for _ in range(3)]
    await others[0].watchers(4)
    await socket.nothing_more(0.5)  # watchers and tabs moved; neither stream spoke
    await clients.data('mutation { incrementCounter(name: "quiet") { value } }')
    assert await next_for(socket, "c") == {"counter": {"__typename": "CounterUpdateEvent"}}
    for other in others:
        other.close()
    socket.close()
