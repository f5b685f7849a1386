"""Idle memory: the server's resident memory per idle, acknowledged,
subscribed connection, measured on a process that serves nothing else."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import psutil

from bench.fanout import collect
from bench.mutations import increment_once
from bench.workers import finish_workers, start_workers


@dataclass
class MemoryResult:
    connections: int
    rss_before_mb: float
    rss_after_mb: float
    per_connection_kb: float
    errors: list[str]

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
    procs, pipes = start_workers(ws_url, counter + "-warm", 10, 1, report_each=False)
    asyncio.run(increment_once(base_url, counter + "-warm"))
    finish_workers(procs, pipes, 0)
    time.sleep(0.5)
    before = server.memory_info().rss
    procs, pipes = start_workers(ws_url, counter, connections, processes, report_each=False)
    # Subscriptions register just after their ack: change the counter until
    # one event reaches every connection, which proves all are subscribed.
    errors = ["not every connection got an event"]
    value = 0
    for _ in range(30):
        value = asyncio.run(increment_once(base_url, counter))
        for pipe in pipes:
            pipe.send(("watch", value))
        if collect(pipes, value, 2.0) is not None:
            errors = []
            break
    time.sleep(0.5)
    after = server.memory_info().rss
    *_, worker_errors, _cpu = finish_workers(procs, pipes, value)
    return MemoryResult(
        connections=connections,
        rss_before_mb=before / 2**20,
        rss_after_mb=after / 2**20,
        per_connection_kb=(after - before) / connections / 1024,
        errors=errors + worker_errors,
    )
