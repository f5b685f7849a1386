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

import orjson
import psutil

from bench.fanout import INCREMENT, collect
from bench.httpclient import KeepAliveClient
from bench.limits import loopback, source_addresses
from bench.mutations import increment_once
from bench.workers import finish_workers, start_workers


@dataclass
class MemoryResult:
    connections: int
    rss_before_mb: float
    rss_after_mb: float
    per_connection_kb: float
    errors: list[str]
    #: Connections that failed to open or were not attempted (see `errors`).
    failed: int = 0
    #: Seconds to open and acknowledge every connection.
    connect_seconds: float = float("nan")
    #: Seconds until one event had reached every connection.
    ready_seconds: float = float("nan")

    @property
    def clean(self) -> bool:
        return not self.errors


def run(
    base_url: str,
    server_pid: int,
    connections: int = 1000,
    processes: int = 1,
    sources: int | None = None,
) -> MemoryResult:
    """`sources`: how many loopback source addresses to connect from
    (default: as many as `connections` needs, bench.limits)."""
    addresses = source_addresses(connections) if sources is None else loopback(sources)
    return asyncio.run(_measure(base_url, server_pid, connections, processes, addresses))


#: Descriptors a server needs besides the measured sockets (listening
#: sockets, database, log, the driver's HTTP connection, some slack).
SPARE_DESCRIPTORS = 100


def _room(server: psutil.Process, connections: int) -> tuple[int, list[str]]:
    """How many connections to try: all, or, when the server's descriptor
    limit cannot hold them, as many as it can, with an error saying so
    (trying more would only wait out timeouts while it refuses them)."""
    soft, hard = server.rlimit(psutil.RLIMIT_NOFILE)
    room = soft - SPARE_DESCRIPTORS
    if connections <= room:
        return connections, []
    return room, [
        f"the server may open {soft} descriptors (hard limit {hard}; raising it needs"
        f" CAP_SYS_RESOURCE): {connections - room} of {connections} connections not attempted"
    ]


async def _measure(
    base_url: str, server_pid: int, connections: int, processes: int, sources: list[str] | None
) -> MemoryResult:
    server = psutil.Process(server_pid)
    counter = f"bench-{uuid.uuid4().hex[:8]}"
    ws_url = "ws" + base_url.removeprefix("http") + "/graphql"
    # Warm the server's caches and lazy imports with a few connections first.
    warm = start_workers(ws_url, counter + "-warm", 10, 1, report_each=False)
    await increment_once(base_url, counter + "-warm")
    finish_workers(warm.procs, warm.pipes, 0)
    # Opened before the connections: a server at its descriptor limit could
    # not accept it after them.
    writer = KeepAliveClient(base_url)
    await writer.open()
    request = writer.request_bytes(INCREMENT, {"n": counter})

    async def increment() -> int:
        status, body = await asyncio.wait_for(writer.send_reopening(request), 60)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
        return orjson.loads(body)["data"]["incrementCounter"]["value"]

    await increment()
    await asyncio.sleep(0.5)
    before = server.memory_info().rss
    attempted, errors = _room(server, connections)
    began = time.monotonic()
    started = start_workers(
        ws_url,
        counter,
        attempted,
        processes,
        report_each=False,
        sources=sources,
    )
    # Subscriptions register just after their ack: change the counter until
    # one event reaches every connection, which proves all are subscribed.
    missed = ["not every connection got an event"]
    value = 0
    for _ in range(10):
        try:
            value = await increment()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, RuntimeError) as error:
            missed = [f"the increment failed: {type(error).__name__}: {error}"]
            break
        for pipe in started.pipes:
            pipe.send(("watch", value))
        if collect(started.pipes, value, 5.0 + attempted / 5000) is not None:
            missed = []
            break
    ready = time.monotonic() - began
    await asyncio.sleep(0.5)
    after = server.memory_info().rss
    writer.close()
    *_, worker_errors, _cpu = finish_workers(started.procs, started.pipes, value)
    if started.failed:
        errors += [f"{started.failed} connections failed", *started.errors]
    failed = connections - started.connected
    return MemoryResult(
        connections=started.connected,
        rss_before_mb=before / 2**20,
        rss_after_mb=after / 2**20,
        per_connection_kb=(after - before) / max(started.connected, 1) / 1024,
        errors=errors + missed + worker_errors,
        failed=failed,
        connect_seconds=started.seconds,
        ready_seconds=ready,
    )
