"""Idle memory: the server's resident memory per idle, acknowledged,
subscribed connection, measured on a process that serves nothing else.

Also the capacity run (50,000 connections on one process): connections
that fail are counted, not fatal, and the time it took to open them all is
reported. Above 20,000 connections the clients connect from several
loopback addresses (bench.limits); give them enough worker processes
(`processes`) that no one of them holds more than ~15,000.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import psutil

from bench.fanout import collect
from bench.limits import source_addresses
from bench.mutations import increment_once
from bench.workers import finish_workers, start_workers


@dataclass
class MemoryResult:
    connections: int
    rss_before_mb: float
    rss_after_mb: float
    per_connection_kb: float
    errors: list[str]
    #: Connections that failed to open (included in `errors` too).
    failed: int = 0
    #: Seconds to open and acknowledge every connection.
    connect_seconds: float = float("nan")
    #: Seconds until one event had reached every connection.
    ready_seconds: float = float("nan")

    @property
    def clean(self) -> bool:
        return not self.errors


def run(
    base_url: str, server_pid: int, connections: int = 1000, processes: int = 1
) -> MemoryResult:
    server = psutil.Process(server_pid)
    counter = f"bench-{uuid.uuid4().hex[:8]}"
    ws_url = "ws" + base_url.removeprefix("http") + "/graphql"
    # Warm the server's caches and lazy imports with a few connections first.
    warm = start_workers(ws_url, counter + "-warm", 10, 1, report_each=False)
    asyncio.run(increment_once(base_url, counter + "-warm"))
    finish_workers(warm.procs, warm.pipes, 0)
    time.sleep(0.5)
    before = server.memory_info().rss
    began = time.monotonic()
    started = start_workers(
        ws_url,
        counter,
        connections,
        processes,
        report_each=False,
        sources=source_addresses(connections),
    )
    # Subscriptions register just after their ack: change the counter until
    # one event reaches every connection, which proves all are subscribed.
    errors = ["not every connection got an event"]
    value = 0
    for _ in range(30):
        value = asyncio.run(increment_once(base_url, counter))
        for pipe in started.pipes:
            pipe.send(("watch", value))
        if collect(started.pipes, value, 2.0 + connections / 5000) is not None:
            errors = []
            break
    ready = time.monotonic() - began
    time.sleep(0.5)
    after = server.memory_info().rss
    *_, worker_errors, _cpu = finish_workers(started.procs, started.pipes, value)
    if started.failed:
        errors = [f"{started.failed} connections failed", *started.errors, *errors]
    return MemoryResult(
        connections=started.connected,
        rss_before_mb=before / 2**20,
        rss_after_mb=after / 2**20,
        per_connection_kb=(after - before) / max(started.connected, 1) / 1024,
        errors=errors + worker_errors,
        failed=started.failed,
        connect_seconds=started.seconds,
        ready_seconds=ready,
    )
