"""The graphql-http audit (npm `graphql-http`, `auditServer`) against us.

Every MUST, SHOULD and MAY must pass. The audit follows the spec's 2025
status-code rules (400 for request errors under
application/graphql-response+json, 200 under application/json); see
app/web/graphql_http.py. The test command installs the npm package.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

AUDIT_DIR = Path(__file__).with_name("audit")


@pytest.mark.gen_test(timeout=60)
async def test_every_graphql_http_audit_passes(clients):
    node = shutil.which("node")
    assert node, "Node.js is needed for the audit; the test command installs it"
    assert (AUDIT_DIR / "node_modules" / "graphql-http").is_dir(), (
        "run the README's test command: it installs tests/audit's npm packages"
    )
    process = await asyncio.create_subprocess_exec(
        node,
        str(AUDIT_DIR / "run-audit.mjs"),
        clients.base_url + "/graphql",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    report = json.loads(stdout)
    failures = [r for r in report["results"] if r["status"] != "ok"]
    assert failures == []
    names = [r["name"] for r in report["results"]]
    assert sum(name.startswith("MUST") for name in names) >= 13
    assert sum(name.startswith("SHOULD") for name in names) >= 23
