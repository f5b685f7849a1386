"""The served schema keeps the agreed contract: additions only.

docs/contract/schema.graphql is the contract as the team agreed it, kept
in the project so that a clone stands alone; app/api/schema.graphql is
what we serve, and may only add to it.
"""

from __future__ import annotations

import subprocess

import pytest
from graphql import (
    build_client_schema,
    build_schema,
    find_breaking_changes,
    get_introspection_query,
)

from app.config import PROJECT_ROOT

CONTRACT = PROJECT_ROOT / "docs" / "contract" / "schema.graphql"


def contract_schema():
    assert CONTRACT.exists(), f"the contract is missing: expected it at {CONTRACT}"
    return build_schema(CONTRACT.read_text())


def test_the_packaged_schema_file_does_not_break_the_contract():
    packaged = build_schema((PROJECT_ROOT / "app" / "api" / "schema.graphql").read_text())
    assert find_breaking_changes(contract_schema(), packaged) == []


@pytest.mark.gen_test
async def test_the_schema_served_over_http_does_not_break_the_contract(clients):
    data = await clients.data(get_introspection_query(descriptions=True))
    served = build_client_schema(data)
    assert find_breaking_changes(contract_schema(), served) == []


def test_breaking_the_contract_would_be_noticed():
    # The check itself must be able to fail: drop a field and see it caught.
    broken = CONTRACT.read_text().replace("  operationCount: Int!\n", "", 1)
    assert find_breaking_changes(contract_schema(), build_schema(broken))


def test_nothing_in_the_project_reads_from_beside_the_clone():
    # A fresh clone must stand alone: no file may point at a sibling folder.
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    pointing = [
        name
        for name in tracked
        if name != "tests/test_schema_contract.py"
        and (PROJECT_ROOT / name).is_file()
        and "../shared" in (PROJECT_ROOT / name).read_text(errors="ignore")
    ]
    assert pointing == []
