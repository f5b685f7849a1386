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
    event = await socket.receive()
    assert event["actor"]["username"] == "plain_actor"
    assert event["actor"]["id"]
    assert (await socket.receive())["type"] == "incrementResult"


@pytest.mark.parametrize("query", ["?token=wrong", ""])
@pytest.mark.gen_test
async def test_the_counter_socket_refuses_an_invalid_token_with_401(clients, query):
    headers = {} if query else {"Authorization": "Bearer wrong"}
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(
            HTTPRequest(f"{clients.ws_url}/ws/counter/x{query}", headers=headers)
        )
    assert refused.value.code == 401
