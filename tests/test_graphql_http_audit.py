"""The graphql-http audit (npm `graphql-http`, `auditServer`) against us.

Every MUST, SHOULD and MAY must pass. The audit follows the spec's 2025
status-code rules (400 for request errors under
application/graphql-response+json, 200 under application/json); see
app/web/graphql_http.py. The test command installs the npm package.
"""

from __future__ import annotations

import pytest

from tests.node_clients import run_node


@pytest.mark.gen_test(timeout=60)
async def test_every_graphql_http_audit_passes(clients):
    report = await run_node("run-audit.mjs", clients.base_url + "/graphql")
    failures = [r for r in report["results"] if r["status"] != "ok"]
    assert failures == []
    names = [r["name"] for r in report["results"]]
    assert sum(name.startswith("MUST") for name in names) >= 13
    assert sum(name.startswith("SHOULD") for name in names) >= 23
