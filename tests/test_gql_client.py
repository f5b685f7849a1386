"""Python's gql client, with its default settings, against /graphql.

gql offers the legacy `graphql-ws` subprotocol first and reads the
server's choice by the header's exact spelling; this proves that a user's
default gql client negotiates graphql-transport-ws and works.
"""

from __future__ import annotations

import asyncio

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from tests.clients import sign_up


def transport(clients, **kwargs):
    return WebsocketsTransport(url=f"{clients.ws_url}/graphql", **kwargs)


@pytest.mark.gen_test(timeout=20)
async def test_gql_with_default_settings_queries_and_subscribes(clients):
    token = await sign_up(clients, "gql_user")
    ws = transport(clients, init_payload={"token": token})
    async with Client(transport=ws, fetch_schema_from_transport=False) as session:
        assert ws.subprotocol == "graphql-transport-ws"
        assert await session.execute(gql("{ viewer { username } }")) == {
            "viewer": {"username": "gql_user"}
        }

        async def change_later() -> None:
            await asyncio.sleep(0.2)
            for _ in range(3):
                await clients.data('mutation { incrementCounter(name: "gqlc") { value } }')

        changer = asyncio.ensure_future(change_later())
        seen = []
        async for result in session.subscribe(
            gql('subscription { counter(name: "gqlc") { value actor { username } } }')
        ):
            seen.append(result["counter"]["value"])
            if len(seen) == 3:
                break
        await changer
        assert seen == [1, 2, 3]

        result = await session.execute(
            gql('mutation { decrementCounter(name: "gqlc") { value actor { username } } }')
        )
        assert result == {"decrementCounter": {"value": 2, "actor": {"username": "gql_user"}}}


@pytest.mark.gen_test(timeout=20)
async def test_gql_sees_an_unauthenticated_library_subscription_as_a_query_error(clients):
    async with Client(transport=transport(clients), fetch_schema_from_transport=False) as session:
        with pytest.raises(TransportQueryError) as refused:
            async for _ in session.subscribe(
                gql('subscription { channel(name: "library") { __typename } }')
            ):
                pass
        assert refused.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
        # The same connection still serves.
        assert await session.execute(gql("{ viewer { username } }")) == {"viewer": None}
