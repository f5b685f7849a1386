"""The npm `graphql-ws` client (createClient, connectionParams {token})."""

from __future__ import annotations

import json

import pytest

from tests.node_clients import run_node


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
    assert result["events"]["counter"] == [
        {
            "data": {
                "counter": {"type": "increment", "value": 2, "actor": {"username": "node_user"}}
            }
        },
        {"data": {"counter": {"type": "reset", "value": 0, "actor": {"username": "node_user"}}}},
    ]
