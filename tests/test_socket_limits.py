"""Per-user limits and credentials on both sockets."""

from __future__ import annotations

import asyncio

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from app.web.base import MAX_SOCKETS_PER_USER
from tests.clients import bearer, open_graphql_socket, sign_up


@pytest.mark.gen_test(timeout=30)
async def test_a_user_may_hold_50_sockets_and_the_next_is_refused(clients):
    token = await sign_up(clients, "tabby")
    for n in range(MAX_SOCKETS_PER_USER):
        if n % 2:
            await clients.counter_socket("tabs", token=token)
        else:
            await open_graphql_socket(clients, headers=bearer(token))
    with pytest.raises(HTTPClientError) as refused:
        await open_graphql_socket(clients, headers=bearer(token))
    assert refused.value.code == 429
    assert b"50 sockets" in refused.value.response.body
    # Anyone else is unaffected, and closing one makes room again.
    other = await sign_up(clients, "other")
    await open_graphql_socket(clients, headers=bearer(other))
    clients.sockets[0].close()
    for _ in range(50):
        try:
            await open_graphql_socket(clients, headers=bearer(token))
            break
        except HTTPClientError:
            await asyncio.sleep(0.02)
    else:
        raise AssertionError("no room after closing a socket")


@pytest.mark.gen_test
async def test_the_counter_socket_records_the_query_token_user_as_actor(clients):
    token = await sign_up(clients, "plain_actor")
    socket = await clients.counter_socket("acted-on", token=token)
    await socket.send({"type": "increment"})
    assert (await socket.receive())["type"] == "incrementResult"
    event = await socket.receive()
    assert event["actor"]["username"] == "plain_actor"
    assert event["actor"]["id"]


@pytest.mark.parametrize("query", ["?token=wrong", ""])
@pytest.mark.gen_test
async def test_the_counter_socket_refuses_an_invalid_token_with_401(clients, query):
    headers = {} if query else {"Authorization": "Bearer wrong"}
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(
            HTTPRequest(f"{clients.ws_url}/ws/counter/x{query}", headers=headers)
        )
    assert refused.value.code == 401


STORIES_TWICE = """{
  a: library { stories(first: 100) { edges { node { url description } } } }
  b: library { stories(first: 100) { edges { node { url description } } } }
}"""


@pytest.mark.gen_test(timeout=60)
async def test_a_result_over_1_mib_is_an_error_for_its_operation_and_the_socket_stays_open(
    clients,
):
    token = await sign_up(clients, "hoarder")
    description = "d" * 5000
    for batch in range(2):  # 100 stories of ~7 KB each
        aliases = " ".join(
            f's{n}: createStory(url: "https://example.com/{batch}/{n}/{"u" * 1900}", '
            f'title: "T{n}", description: $d) {{ id }}'
            for n in range(50)
        )
        await clients.data(f"mutation($d: String) {{ {aliases} }}", {"d": description}, token)
    socket = await open_graphql_socket(clients, headers=bearer(token))
    await socket.init()
    await socket.subscribe("big", STORIES_TWICE)
    error = await socket.receive(timeout=20)
    assert error["id"] == "big"
    assert error["type"] == "error"
    [only] = error["payload"]
    assert only["extensions"]["code"] == "BAD_USER_INPUT"
    assert "results over the socket are limited to 1 MiB" in only["message"]
    assert only["message"].startswith("The result is 1.4 MB")
    # The socket is still open and serves the next operation.
    await socket.subscribe("small", "{ viewer { username } }")
    assert await socket.next_payload("small") == {"data": {"viewer": {"username": "hoarder"}}}
    assert await socket.receive() == {"id": "small", "type": "complete"}


@pytest.mark.gen_test(timeout=60)
async def test_a_subscription_event_over_1_mib_ends_that_subscription_with_an_error(
    clients, registry
):
    token = await sign_up(clients, "echo")
    copies = " ".join(f"c{n}: story {{ description }}" for n in range(250))  # ~1.25 MB
    socket = await open_graphql_socket(clients, headers=bearer(token))
    await socket.init()
    await socket.subscribe(
        "huge",
        f'subscription {{ channel(name: "library") {{ ... on StoryCreateEvent {{ {copies} }} }} }}',
    )
    await socket.subscribe("small", 'subscription { channel(name: "library") { __typename } }')
    for _ in range(250):  # until both groups listen
        if sum(n for topic, n in registry.topics().items() if topic[-1] == "library") == 2:
            break
        await asyncio.sleep(0.02)
    await clients.data(
        'mutation($d: String) { createStory(url: "https://example.com/e", title: "E", description: $d) { id } }',
        {"d": "e" * 5000},
        token,
    )
    frames = [await socket.receive() for _ in range(3)]  # small's 2 events, huge's error
    [error] = [frame for frame in frames if frame["id"] == "huge"]
    assert error["type"] == "error"
    assert "results over the socket are limited to 1 MiB" in error["payload"][0]["message"]
    assert [frame["type"] for frame in frames if frame["id"] == "small"] == ["next", "next"]
    # The connection goes on, and so does the other subscription; the ended one is quiet.
    await clients.data('mutation { createTag(name: "T", color: "#abc") { id } }', token=token)
    assert [(await socket.receive())["id"] for _ in range(2)] == ["small", "small"]
    await socket.nothing_more()
