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
from bench.workers import finish_workers, start_workers

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


def run(base_url: str, subscribers: int, events: int, processes: int = 1) -> FanoutResult:
    counter = f"bench-{uuid.uuid4().hex[:8]}"
    ws_url = "ws" + base_url.removeprefix("http") + "/graphql"
    procs, pipes = start_workers(ws_url, counter, subscribers, processes)
    return asyncio.run(_drive(base_url, counter, subscribers, events, procs, pipes))


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


async def _drive(base_url, counter, subscribers, events, procs, pipes) -> FanoutResult:
    client = KeepAliveClient(base_url)
    await client.open()
    request = client.request_bytes(INCREMENT, {"n": counter})

    async def increment() -> int:
        _, body = await client.send(request)
        return orjson.loads(body)["data"]["incrementCounter"]["value"]

    # Warm up until one event reaches every subscriber: all are registered.
    since = None
    for _ in range(50):
        value = await increment()
        if collect(pipes, value, 1.0) is not None:
            since = value
            break
    if since is None:
        raise RuntimeError("subscribers never all received a warm-up event")

    cpu_before = time.process_time()
    firsts: list[float] = []
    lasts: list[float] = []
    timed_out = 0
    started = time.monotonic_ns()
    finished = started
    for _ in range(events):
        sent = time.monotonic_ns()
        value = await increment()
        receipt = collect(pipes, value, 10.0)
        if receipt is None:
            timed_out += 1
            continue
        firsts.append((receipt[0] - sent) / 1e6)
        lasts.append((receipt[1] - sent) / 1e6)
        finished = receipt[1]
    seconds = (finished - started) / 1e9
    client.close()

    lost, duplicated, out_of_order, errors, worker_cpu = finish_workers(procs, pipes, since)
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
    )
