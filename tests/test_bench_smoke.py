"""A short run of the benchmark suite (seconds): it fails on any lost,
duplicated or reordered event, or any lost update, and checks that each
measurement the compare table rests on runs at all (the probe during a
fan-out, the counter socket as a write path, connections from several
source addresses). The full runs and their figures are in
docs/BENCHMARKS.md."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.config import PROJECT_ROOT
from bench.compare import Row
from bench.limits import source_addresses
from tests.processes import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("bench-data")) as server:
        yield server


@pytest.fixture(scope="module")
def server_url(server):
    return server.url


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


def assert_every_update_counted_once(result: dict) -> None:
    """What a `mutations` run promises: every acknowledged change applied
    once, and every watcher holding each value once, in order."""
    assert result["acknowledged"] > 0
    assert result["lost_updates"] == 0
    assert (
        result["watcher_lost"],
        result["watcher_duplicated"],
        result["watcher_out_of_order"],
    ) == (0, 0, 0)
    assert result["errors"] == []


def test_mutation_smoke_loses_no_update_and_watchers_see_all(server_url):
    result = bench(
        "mutations", "--url", server_url, "--clients", "8", "--seconds", "2", "--watchers", "20"
    )
    assert_every_update_counted_once(result)


def test_fanout_probe_times_a_query_during_the_fanout(server_url):
    result = bench(
        "fanout", "--url", server_url, "--subscribers", "100", "--events", "10",
        "--processes", "2", "--probe",
    )  # fmt: skip
    assert result["delivered"] == 100 * 10
    assert result["errors"] == []
    assert result["probe_requests"] > 0
    assert result["probe_failed"] == 0
    assert result["probe_max_ms"] >= result["probe_p50_ms"] > 0
    assert result["probe_idle_p50_ms"] > 0


def test_counter_socket_mutations_count_exactly_once(server_url):
    result = bench(
        "mutations", "--url", server_url, "--clients", "4", "--seconds", "1.5",
        "--watchers", "10", "--via", "socket",
    )  # fmt: skip
    assert result["via"] == "socket"
    assert_every_update_counted_once(result)


def test_memory_connects_from_several_source_addresses(server):
    result = bench(
        "memory", "--url", server.url, "--server-pid", str(server.process.pid),
        "--connections", "60", "--processes", "2", "--sources", "3",
    )  # fmt: skip
    assert (result["connections"], result["failed"], result["errors"]) == (60, 0, [])
    assert result["connect_seconds"] > 0


def test_source_addresses_spread_large_runs_over_loopback_addresses():
    assert source_addresses(20000) is None
    assert source_addresses(50000) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


def test_compare_rows_hold_ratio_and_limit_targets_together():
    memory = Row("KB", ours=12.0, peer=45.0, better="lower", ratio_target=1 / 3, limit=14)
    assert memory.met
    assert not Row("KB", 15.0, 50.0, "lower", 1 / 3, 14).met  # under 1/3, over 14 KB
    assert not Row("KB", 13.0, 30.0, "lower", 1 / 3, 14).met  # under 14 KB, over 1/3
    assert Row("fan-out p50", 120.0, None, "lower", limit=150).met
    assert Row("probe", 5.0, 6.0, "lower").met is None
