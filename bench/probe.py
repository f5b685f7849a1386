"""A probe: one client sending a cheap query (`{ __typename }`) over and
over, in a process of its own, to show whether requests wait while the
server is busy with something else (a fan-out).

It records when each request was sent and how long its answer took, on the
system-wide monotonic clock, so that the driver can cut the record into
windows it timed itself (idle, during the fan-out). One request at a time,
with a pause between them, so the probe adds little load: a request that
waits behind a publish shows as one long latency, and the longest is the
longest wait. Bounded: it stops when told, or after `max_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from bench.httpclient import KeepAliveClient

QUERY = "{ __typename }"


@dataclass
class ProbeWindow:
    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    failed: int


async def _probe(conn: Connection, base_url: str, pause: float, max_seconds: float) -> None:
    client = KeepAliveClient(base_url)
    await client.open()
    request = client.request_bytes(QUERY)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_reader(conn.fileno(), lambda: stop.done() or stop.set_result(conn.recv()))
    conn.send(("ready",))
    samples: list[tuple[int, int, bool]] = []  # (sent ns, latency ns, ok)
    deadline = time.monotonic() + max_seconds
    while not stop.done() and time.monotonic() < deadline:
        sent = time.monotonic_ns()
        try:
            status, body = await asyncio.wait_for(client.send_reopening(request), 30)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            samples.append((sent, time.monotonic_ns() - sent, False))
            break
        samples.append((sent, time.monotonic_ns() - sent, status == 200 and b"Query" in body))
        await asyncio.sleep(pause)
    client.close()
    conn.send(("samples", samples))


def _main(conn: Connection, base_url: str, pause: float, max_seconds: float) -> None:
    # Ahead of the busy subscriber workers on a shared machine, so that a
    # long latency is the server's wait, not this process waiting for a core.
    with contextlib.suppress(OSError):
        os.nice(-10)
    asyncio.run(_probe(conn, base_url, pause, max_seconds))


class Probe:
    """The probe process: start, let it run, `stop()` for its samples."""

    def __init__(self, base_url: str, pause_ms: float = 5.0, max_seconds: float = 900.0) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.proc: BaseProcess = context.Process(
            target=_main, args=(child, base_url, pause_ms / 1000, max_seconds), daemon=True
        )
        self.proc.start()
        if not self.pipe.poll(30):
            raise TimeoutError("the probe did not start within 30 s")
        self.pipe.recv()
        self.samples: list[tuple[int, int, bool]] = []

    def stop(self) -> list[tuple[int, int, bool]]:
        self.pipe.send(("stop",))
        if not self.pipe.poll(60):
            raise TimeoutError("the probe did not stop within 60 s")
        _, self.samples = self.pipe.recv()
        self.proc.join(10)
        return self.samples

    def window(self, start_ns: int, end_ns: int) -> ProbeWindow:
        """Latency of the requests sent between the two instants."""
        inside = [(latency, ok) for sent, latency, ok in self.samples if start_ns <= sent < end_ns]
        latencies = sorted(latency / 1e6 for latency, _ in inside)
        if not latencies:
            return ProbeWindow(0, float("nan"), float("nan"), float("nan"), 0)
        return ProbeWindow(
            requests=len(latencies),
            p50_ms=latencies[len(latencies) // 2],
            p99_ms=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            max_ms=latencies[-1],
            failed=sum(1 for _, ok in inside if not ok),
        )
