"""The npm `graphql-sse` client (createClient), in both of its modes,
against one process and across two (subscribe on one, change on the
other)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest

from app.config import Settings
from app.realtime.registry import Registry
from tests.cluster import wait_watchers
from tests.documents import LIBRARY_SUBSCRIPTION
from tests.node_clients import NodeProcess, start_node

MODES = pytest.mark.parametrize("single", [False, True], ids=["distinct", "single"])
SIGN_UP = "mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { token } }"


async def sse_client(url: str, single: bool, operations: dict[str, str], token: str | None = None):
    options = {"url": url, "singleConnection": single, "operations": operations, "token": token}
    return await start_node("graphql-sse-subscriber.mjs", json.dumps(options))


async def reports(node: NodeProcess, name: str, count: int) -> list[Any]:
    """The next `count` reports about operation `name` (others are kept out)."""
    found = []
    while len(found) < count:
        report = await node.report()
        if report.get("name") == name:
            assert "error" not in report, report
            found.append(report)
    return found


@MODES
@pytest.mark.gen_test(timeout=60)
async def test_the_npm_graphql_sse_client_runs_queries_and_hears_library_changes(
    clients, registry, single
):
    token = (await clients.data(SIGN_UP, {"u": "sse_user", "p": "correct horse"}))["signUp"][
        "token"
    ]
    operations = {
        "library": LIBRARY_SUBSCRIPTION,
        "viewer": "{ viewer { username } }",
    }
    node = await sse_client(clients.base_url + "/graphql", single, operations, token)
    try:
        viewer = await reports(node, "viewer", 2)
        assert viewer == [
            {"name": "viewer", "next": {"data": {"viewer": {"username": "sse_user"}}}},
            {"name": "viewer", "complete": True},
        ]
        await wait_for_subscriber(registry, "library")
        await clients.data(
            'mutation { createStory(url: "https://example.com/1", title: "One") { id } }',
            token=token,
        )
        await clients.data('mutation { createTag(name: "SSE", color: "#ABC") { id } }', token=token)
        events = [report["next"] for report in await reports(node, "library", 4)]
        channel = [event["data"]["channel"] for event in events]
        assert [event["type"] for event in channel] == [
            "story:create",
            "library:change",
            "tag:create",
            "library:change",
        ]
        assert channel[0]["story"]["title"] == "One"
        assert channel[3] == {"type": "library:change", "totalStories": 1, "totalTags": 1}
        assert [event["extensions"]["stream"]["offset"] for event in events] == [1, 2, 3, 4]
    finally:
        await node.close()


async def wait_for_subscriber(registry: Registry, kind: str) -> None:
    """Until a subscription to a user's channel `kind` is in place in the
    in-process app's registry."""
    for _ in range(250):
        if any(topic[0] == "user" and topic[-1] == kind for topic in registry.topics()):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {kind} subscriber: {registry.topics()}")


@MODES
@pytest.mark.gen_test(timeout=90)
async def test_subscribed_on_one_process_changed_on_the_other_every_event_once_in_order(
    pair, single
):
    a, b = pair
    name = f"sse-{'single' if single else 'distinct'}"
    query = f'subscription {{ counter(name: "{name}") {{ value }} }}'
    node = await sse_client(b.url + "/graphql", single, {"counter": query})
    try:
        await wait_watchers(b, name, 1)
        for _ in range(5):
            await a.graphql_async(f'mutation {{ incrementCounter(name: "{name}") {{ value }} }}')
        events = [report["next"] for report in await reports(node, "counter", 5)]
        assert [event["data"]["counter"]["value"] for event in events] == [1, 2, 3, 4, 5]
        assert [event["extensions"]["stream"]["offset"] for event in events] == [1, 2, 3, 4, 5]
        await a.graphql_async(f'mutation {{ resetCounter(name: "{name}") {{ value }} }}')
        [last] = await reports(node, "counter", 1)
        assert last["next"]["data"]["counter"]["value"] == 0
        assert last["next"]["extensions"]["stream"]["offset"] == 6
    finally:
        await node.close()


class TestFrequentKeepAlives:
    """Keep-alive comments every 50 ms, twenty while the stream idles: the
    client passes over them, with no error and nothing extra."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return replace(settings, event_stream_keep_alive=0.05)

    @MODES
    @pytest.mark.gen_test(timeout=60)
    async def test_the_npm_client_reads_events_between_keep_alives_as_ever(
        self, clients, registry, single
    ):
        query = 'subscription { counter(name: "kept") { value } }'
        node = await sse_client(clients.base_url + "/graphql", single, {"counter": query})
        try:
            for _ in range(250):
                if ("counter", "kept") in registry.topics():
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(1)  # idle: only keep-alives go
            for _ in range(3):
                await clients.data('mutation { incrementCounter(name: "kept") { value } }')
            events = [report["next"] for report in await reports(node, "counter", 3)]
            assert [event["data"]["counter"]["value"] for event in events] == [1, 2, 3]
            await asyncio.sleep(0.5)
            with pytest.raises(TimeoutError):  # nothing else: no error, no end
                await node.report(timeout=0.3)
        finally:
            await node.close()
