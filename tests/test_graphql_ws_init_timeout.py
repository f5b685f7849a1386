"""The init timeout is configurable; a silent client is closed with 4408."""

from __future__ import annotations

import pytest

from tests.clients import open_graphql_socket


@pytest.fixture
def settings(settings):
    return settings.with_overrides(graphql_ws_init_timeout=0.3)


@pytest.mark.gen_test
async def test_no_connection_init_in_time_closes_with_4408(clients):
    socket = await open_graphql_socket(clients)
    assert await socket.closed() == (4408, "Connection initialisation timeout")


@pytest.mark.gen_test
async def test_an_init_in_time_cancels_the_timeout(clients):
    socket = await open_graphql_socket(clients)
    await socket.init()
    await socket.nothing_more(0.6)
    await socket.send({"type": "ping"})
    assert await socket.receive() == {"type": "pong"}
