"""The npm `graphql-ws` client (createClient, connectionParams {token})."""

from __future__ import annotations

import json

import pytest

from tests.cluster import lose_an_event, running_pair, wait_watchers
from tests.documents import LIBRARY_SUBSCRIPTION
from tests.node_clients import run_node, start_node
from tests.test_notifications import NOTIFICATIONS


@pytest.mark.gen_test(timeout=60)
async def test_the_npm_graphql_ws_client_signs_up_and_hears_counter_changes(clients, tmp_path):
    plan = {
        "baseUrl": clients.base_url,
        "username": "node_user",
        "password": "correct horse",
        "subscriptions": {
            "counter": 'subscription { counter(name: "npm") { type value actor { username } } }',
        },
        "mutations": [
            'mutation { incrementCounter(name: "npm", amount: 2) { value } }',
            'mutation { resetCounter(name: "npm") { value } }',
        ],
        "expect": {"counter": 2},
    }
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    result = await run_node("graphql-ws-client.mjs", str(plan_file))
    assert result["errors"] == []
    events = result["events"]["counter"]
    assert [event["data"] for event in events] == [
        {"counter": {"type": "increment", "value": 2, "actor": {"username": "node_user"}}},
        {"counter": {"type": "reset", "value": 0, "actor": {"username": "node_user"}}},
    ]
    # Each event's stream position reaches the client beside the data.
    assert [event["extensions"]["stream"]["offset"] for event in events] == [1, 2]


@pytest.mark.gen_test(timeout=60)
async def test_the_npm_client_hears_library_changes_in_order_with_only_the_selected_fields(
    clients, tmp_path
):
    plan = {
        "baseUrl": clients.base_url,
        "username": "node_reader",
        "password": "correct horse",
        "subscriptions": {"library": LIBRARY_SUBSCRIPTION},
        "mutations": [
            'mutation { createStory(url: "https://example.com/1", title: "One") { id } }',
            'mutation { createTag(name: "Node", color: "#ABC") { id } }',
            'mutation { createStory(url: "https://example.com/2", title: "Two", description: "2") { id } }',
        ],
        "expect": {"library": 6},
    }
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    result = await run_node("graphql-ws-client.mjs", str(plan_file))
    assert result["errors"] == []
    channel = [event["data"]["channel"] for event in result["events"]["library"]]
    assert [event["type"] for event in channel] == [
        "story:create",
        "library:change",
        "tag:create",
        "library:change",
        "story:create",
        "library:change",
    ]
    assert set(channel[0]) == {"type", "story"}
    assert set(channel[0]["story"]) == {"id", "url", "title", "description", "createdAt"}
    assert channel[2]["tag"]["color"] == "#abc"
    assert channel[4]["story"]["description"] == "2"
    assert channel[5] == {"type": "library:change", "totalStories": 2, "totalTags": 1}


@pytest.mark.gen_test(timeout=60)
async def test_the_npm_client_hears_a_notification_of_someone_elses_change_only(clients, tmp_path):
    plan = {
        "baseUrl": clients.base_url,
        "username": "node_follower",
        "password": "correct horse",
        "subscriptions": {"notifications": NOTIFICATIONS},
        "mutations": [
            'mutation { followCounter(name: "npm-followed") { name } }',
            'mutation { incrementCounter(name: "npm-followed", amount: 5) { value } }',
            {
                "query": 'mutation { incrementCounter(name: "npm-followed", amount: 2) { value } }',
                "anonymous": True,
            },
        ],
        "expect": {"notifications": 1},
    }
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    result = await run_node("graphql-ws-client.mjs", str(plan_file))
    assert result["errors"] == []
    # Its own change told it nothing; the anonymous visitor's did, once.
    (event,) = result["events"]["notifications"]
    notification = event["data"]["channel"]
    assert notification["type"] == "counter:change"
    assert (notification["counterName"], notification["operation"]) == ("npm-followed", "increment")
    assert (notification["previousValue"], notification["value"]) == (5, 7)
    assert notification["actor"] is None
    assert event["extensions"]["stream"]["offset"] == 1


HOLEY = 'subscription { counter(name: "holey") { value } }'
INCREMENT_HOLEY = 'mutation { incrementCounter(name: "holey") { value } }'


@pytest.mark.gen_test(timeout=120)
async def test_the_npm_client_across_a_hole_gets_only_events_with_data_and_keeps_going(
    tmp_path, postgres, private_redis
):
    """A subscription that never asked for positions (no `extensions.since`)
    is not told of a hole with a data-less `next`: Relay would end on it,
    Apollo and urql repeat the last event. It gets the events it can."""
    with running_pair(tmp_path, postgres, private_redis) as (a, b):
        node = await start_node("graphql-ws-subscriber.mjs", b.ws + "/graphql", HOLEY)
        try:
            assert await node.report() == {"connected": True}
            await wait_watchers(b, "holey", 1)
            await a.graphql_async(INCREMENT_HOLEY)
            first = await node.report()
            await lose_an_event(private_redis, (a, b), INCREMENT_HOLEY)  # 2 never reaches b
            await a.graphql_async(INCREMENT_HOLEY)
            after = await node.report()
            await a.graphql_async(INCREMENT_HOLEY)
            later = await node.report()
            reports = [first, after, later]
            assert all("data" in report.get("next", {}) for report in reports), reports
            assert [report["next"]["data"]["counter"]["value"] for report in reports] == [1, 3, 4]
        finally:
            await node.close()
