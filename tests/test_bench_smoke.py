"""A short run of the benchmark suite (seconds): it fails on any lost,
duplicated or reordered event, or any lost update. The full runs and
their figures are in docs/BENCHMARKS.md."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.config import PROJECT_ROOT
from tests.processes import ServerProcess


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("bench-data")) as server:
        yield server.url


def bench(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--json", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_fanout_smoke_delivers_every_event_once_in_order(server_url):
    result = bench("fanout", "--url", server_url, "--subscribers", "200", "--events", "30")
    assert result["delivered"] == 200 * 30
    assert (result["lost"], result["duplicated"], result["out_of_order"], result["timed_out"]) == (
        0,
        0,
        0,
        0,
    )
    assert result["messages_per_second"] > 0


def test_mutation_smoke_loses_no_update_and_watchers_see_all(server_url):
    result = bench(
        "mutations", "--url", server_url, "--clients", "8", "--seconds", "2", "--watchers", "20"
    )
    assert result["acknowledged"] > 0
    assert result["lost_updates"] == 0
    assert (
        result["watcher_lost"],
        result["watcher_duplicated"],
        result["watcher_out_of_order"],
    ) == (0, 0, 0)
    assert result["errors"] == []
