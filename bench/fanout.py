"""Fan-out: N subscribers on one counter, M events one after another.

Reports messages delivered per second, the time from each mutation to its
first and to its last receipt (p50/p99), and any lost, duplicated or
reordered event.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import wait

import orjson

from bench.httpclient import KeepAliveClient
from bench.limits import source_addresses
from bench.probe import Probe
from bench.workers import Started, finish_workers, start_workers

INCREMENT = "mutation($n: String!) { incrementCounter(name: $n) { value } }"


@dataclass
class FanoutResult:
    subscribers: int
    events: int
    delivered: int
    seconds: float
    messages_per_second: float
    first_p50_ms: float
    first_p99_ms: float
    last_p50_ms: float
    last_p99_ms: float
    lost: int
    duplicated: int
    out_of_order: int
    timed_out: int
    client_cpu_seconds: float
    errors: list[str]
    #: Seconds to connect and acknowledge every subscriber.
    connect_seconds: float = float("nan")
    #: The probe (`{ __typename }`, one at a time) with the subscribers idle,
    #: and while the events went out: does a request wait behind a fan-out?
    probe_idle_p50_ms: float = float("nan")
    probe_requests: int = 0
    probe_p50_ms: float = float("nan")
    probe_p99_ms: float = float("nan")
    probe_max_ms: float = float("nan")
    probe_failed: int = 0

    @property
    def clean(self) -> bool:
        return not (
            self.lost or self.duplicated or self.out_of_order or self.timed_out or self.errors
        )


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(
    base_url: str, subscribers: int, events: int, processes: int = 1, probe: bool = False
) -> FanoutResult:
    """With `probe`, a probe process (bench.probe) times a cheap query
    throughout: idle for a second before the events, then while they go out."""
    counter = f"bench-{uuid.uuid4().hex[:8]}"
    ws_url = "ws" + base_url.removeprefix("http") + "/graphql"
    started = start_workers(
        ws_url, counter, subscribers, processes, sources=source_addresses(subscribers)
    )
    prober = Probe(base_url) if probe else None
    try:
        result = asyncio.run(_drive(base_url, counter, events, started, prober))
    finally:
        if prober is not None and prober.proc.is_alive():
            prober.proc.kill()
    result.connect_seconds = started.seconds
    return result


def collect(pipes, value: int, timeout: float) -> tuple[int, int] | None:
    """Waits for every worker's "done" for `value`: (first, last) receipt."""
    pending = set(pipes)
    first, last = None, None
    deadline = time.monotonic() + timeout
    while pending:
        ready = wait(list(pending), max(0.0, deadline - time.monotonic()))
        if not ready:
            return None
        for pipe in ready:
            message = pipe.recv()
            if message[0] == "done" and message[1] == value:
                pending.discard(pipe)
                first = message[2] if first is None else min(first, message[2])
                last = message[3] if last is None else max(last, message[3])
    return first, last


async def _drive(
    base_url: str, counter: str, events: int, workers: Started, prober: Probe | None
) -> FanoutResult:
    pipes, subscribers = workers.pipes, workers.connected
    # Generous for a slow server: one event to 10,000 may take seconds.
    wait = 10.0 + subscribers / 1000
    client = KeepAliveClient(base_url)
    await client.open()
    request = client.request_bytes(INCREMENT, {"n": counter})

    async def increment() -> int:
        # The connection idles while the workers report (seconds, with a
        # slow server): it may have been closed meanwhile.
        _, body = await client.send_reopening(request)
        return orjson.loads(body)["data"]["incrementCounter"]["value"]

    # Warm up until one event reaches every subscriber: all are registered.
    since = None
    for _ in range(20):
        value = await increment()
        if collect(pipes, value, 1.0 + subscribers / 1000) is not None:
            since = value
            break
    if since is None:
        raise RuntimeError("subscribers never all received a warm-up event")

    idle_start = time.monotonic_ns()
    if prober is not None:
        await asyncio.sleep(1.0)  # the probe alone: its latency with nothing going on
    cpu_before = time.process_time()
    firsts: list[float] = []
    lasts: list[float] = []
    timed_out = 0
    started = time.monotonic_ns()
    finished = started
    for _ in range(events):
        sent = time.monotonic_ns()
        value = await increment()
        receipt = collect(pipes, value, wait)
        if receipt is None:
            timed_out += 1
            continue
        firsts.append((receipt[0] - sent) / 1e6)
        lasts.append((receipt[1] - sent) / 1e6)
        finished = receipt[1]
    seconds = (finished - started) / 1e9
    ended = time.monotonic_ns()
    client.close()
    idle = busy = None
    if prober is not None:
        prober.stop()
        idle, busy = prober.window(idle_start, started), prober.window(started, ended)

    lost, duplicated, out_of_order, errors, worker_cpu = finish_workers(workers.procs, pipes, since)
    if workers.failed:
        errors = [f"{workers.failed} subscribers failed to connect", *workers.errors, *errors]
    delivered = len(lasts) * subscribers
    return FanoutResult(
        subscribers=subscribers,
        events=events,
        delivered=delivered,
        seconds=seconds,
        messages_per_second=delivered / seconds if seconds else 0.0,
        first_p50_ms=statistics.median(firsts) if firsts else float("nan"),
        first_p99_ms=percentile(firsts, 0.99),
        last_p50_ms=statistics.median(lasts) if lasts else float("nan"),
        last_p99_ms=percentile(lasts, 0.99),
        lost=lost,
        duplicated=duplicated,
        out_of_order=out_of_order,
        timed_out=timed_out,
        client_cpu_seconds=worker_cpu + time.process_time() - cpu_before,
        errors=errors,
        probe_idle_p50_ms=idle.p50_ms if idle else float("nan"),
        probe_requests=busy.requests if busy else 0,
        probe_p50_ms=busy.p50_ms if busy else float("nan"),
        probe_p99_ms=busy.p99_ms if busy else float("nan"),
        probe_max_ms=busy.max_ms if busy else float("nan"),
        probe_failed=(busy.failed + idle.failed) if busy and idle else 0,
    )
