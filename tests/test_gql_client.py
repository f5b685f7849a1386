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

from app.events import counter_topic
from tests.clients import sign_up
from tests.cluster import lose_an_event, running_pair, wait_watchers
from tests.waiting import until


def transport(clients, **kwargs):
    return WebsocketsTransport(url=f"{clients.ws_url}/graphql", **kwargs)


@pytest.mark.gen_test(timeout=20)
async def test_gql_with_default_settings_queries_and_subscribes(clients, registry):
    token = await sign_up(clients, "gql_user")
    ws = transport(clients, init_payload={"token": token})
    async with Client(transport=ws, fetch_schema_from_transport=False) as session:
        assert ws.subprotocol == "graphql-transport-ws"
        assert await session.execute(gql("{ viewer { username } }")) == {
            "viewer": {"username": "gql_user"}
        }

        async def change_later() -> None:
            topic = counter_topic("gqlc")
            await until(lambda: registry.subscribers(topic), "the subscription to join")
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


@pytest.mark.gen_test(timeout=120)
async def test_gql_across_a_hole_gets_only_events_with_data_and_keeps_going(
    tmp_path, postgres, private_redis
):
    """A subscription that never asked for positions (no `extensions.since`)
    is not told of a hole with a data-less `next`, on which gql would raise."""
    increment = 'mutation { incrementCounter(name: "gaps") { value } }'
    with running_pair(tmp_path, postgres, private_redis) as (a, b):
        ws = WebsocketsTransport(url=f"{b.ws}/graphql")
        async with Client(transport=ws, fetch_schema_from_transport=False) as session:
            heard: asyncio.Queue[dict] = asyncio.Queue()

            async def listen() -> None:
                async for result in session.subscribe(
                    gql('subscription { counter(name: "gaps") { value } }')
                ):
                    heard.put_nowait(result)

            listening = asyncio.ensure_future(listen())

            async def next_result() -> dict:
                getting = asyncio.ensure_future(heard.get())
                done, _ = await asyncio.wait(
                    {getting, listening}, timeout=10, return_when=asyncio.FIRST_COMPLETED
                )
                if getting in done:
                    return getting.result()
                getting.cancel()
                if listening in done:
                    listening.result()  # gql's error, if it raised one
                    raise AssertionError("the subscription ended")
                raise AssertionError("no event within 10 s")

            try:
                await wait_watchers(b, "gaps", 1)
                values = []
                await a.graphql_async(increment)
                values.append(await next_result())
                await lose_an_event(private_redis, (a, b), increment)  # 2 never reaches b
                for _ in range(2):
                    await a.graphql_async(increment)
                    values.append(await next_result())
                assert values == [{"counter": {"value": value}} for value in (1, 3, 4)]
            finally:
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
