"""Mutation throughput: C clients incrementing one counter for S seconds,
optionally while W subscribers watch that counter. The clients write
through POST /graphql (`incrementCounter`, keep-alive) or, `via="socket"`,
through the counter socket (bench.socket_writers; ours only, the peer has
no such path).

With `keyed`, every increment carries a fresh `clientMutationId`, as the
counter page's outbox sends them: the key is looked up under the row lock
and kept with the operation (app.models.counter), so this is the page's
path. (HTTP only.)

Counts acknowledged increments, then checks that the counter grew by
exactly that many (no lost update) and that every watcher received every
value once, in order.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection

from bench import socket_writers
from bench.fanout import INCREMENT, collect
from bench.httpclient import KeepAliveClient
from bench.workers import finish_workers, start_workers

VIAS = ("http", "socket")
VALUE = "query($n: String!) { counter(name: $n) { value } }"
KEYED_INCREMENT = (
    "mutation($n: String!, $k: String) {"
    " incrementCounter(name: $n, clientMutationId: $k) { value } }"
)


@dataclass
class MutationResult:
    clients: int
    via: str
    keyed: bool
    watchers: int
    seconds: float
    acknowledged: int
    per_second: float
    lost_updates: int
    watcher_lost: int
    watcher_duplicated: int
    watcher_out_of_order: int
    client_cpu_seconds: float
    errors: list[str]

    @property
    def clean(self) -> bool:
        return not (
            self.lost_updates
            or self.watcher_lost
            or self.watcher_duplicated
            or self.watcher_out_of_order
            or self.errors
        )


async def _hammer(
    base_url: str, counter: str, clients: int, seconds: float, keyed: bool = False
) -> tuple[int, int]:
    connections = [KeepAliveClient(base_url) for _ in range(clients)]
    await asyncio.gather(*(client.open() for client in connections))
    request = connections[0].request_bytes(INCREMENT, {"n": counter})
    deadline = time.monotonic() + seconds
    ok = failed = 0

    def keyed_request() -> bytes:
        return connections[0].request_bytes(KEYED_INCREMENT, {"n": counter, "k": uuid.uuid4().hex})

    async def loop(client: KeepAliveClient) -> None:
        nonlocal ok, failed
        while time.monotonic() < deadline:
            status, body = await client.send(keyed_request() if keyed else request)
            if status == 200 and b'"value"' in body:
                ok += 1
            else:
                failed += 1

    await asyncio.gather(*(loop(client) for client in connections))
    for client in connections:
        client.close()
    return ok, failed


def _hammer_process(
    conn: Connection,
    base_url: str,
    counter: str,
    clients: int,
    seconds: float,
    via: str,
    keyed: bool,
) -> None:
    cpu = time.process_time()
    if via == "socket":
        ok, failed = asyncio.run(socket_writers.hammer(base_url, counter, clients, seconds))
    else:
        ok, failed = asyncio.run(_hammer(base_url, counter, clients, seconds, keyed))
    conn.send((ok, failed, time.process_time() - cpu))


async def _value(base_url: str, counter: str) -> int:
    client = KeepAliveClient(base_url)
    await client.open()
    try:
        return (await client.graphql(VALUE, {"n": counter}))["data"]["counter"]["value"]
    finally:
        client.close()


def run(
    base_url: str,
    clients: int = 32,
    seconds: float = 10.0,
    watchers: int = 0,
    processes: int = 1,
    via: str = "http",
    keyed: bool = False,
) -> MutationResult:
    if via not in VIAS:
        raise ValueError(f"via must be one of {', '.join(VIAS)}, not {via!r}")
    if keyed and via != "http":
        raise ValueError("keyed increments go over HTTP only")
    counter = f"bench-{uuid.uuid4().hex[:8]}"
    ws_url = "ws" + base_url.removeprefix("http") + "/graphql"
    procs, pipes = [], []
    if watchers:
        started = start_workers(ws_url, counter, watchers, 1, report_each=False)
        procs, pipes = started.procs, started.pipes
    # One increment that every watcher must see: then all are registered.
    start = asyncio.run(increment_once(base_url, counter))
    if watchers:
        for pipe in pipes:
            pipe.send(("watch", start))
        if collect(pipes, start, 30.0) is None:
            raise RuntimeError("the watchers did not all receive the warm-up event")

    context = multiprocessing.get_context("spawn")
    shares = [
        clients // processes + (1 if n < clients % processes else 0) for n in range(processes)
    ]
    runners = []
    began = time.monotonic()
    for share in shares:
        parent, child = context.Pipe()
        proc = context.Process(
            target=_hammer_process,
            args=(child, base_url, counter, share, seconds, via, keyed),
            daemon=True,
        )
        proc.start()
        runners.append((proc, parent))
    ok = failed = 0
    cpu = 0.0
    for proc, parent in runners:
        got_ok, got_failed, got_cpu = parent.recv()
        ok, failed, cpu = ok + got_ok, failed + got_failed, cpu + got_cpu
        proc.join(10)
    elapsed = time.monotonic() - began
    final = asyncio.run(_value(base_url, counter))
    errors = [f"{failed} increments were not acknowledged"] if failed else []
    lost = dup = ooo = 0
    if watchers:
        for pipe in pipes:
            pipe.send(("watch", final))
        if collect(pipes, final, 30.0) is None:
            errors.append("the watchers did not all receive the last value")
        lost, dup, ooo, worker_errors, worker_cpu = finish_workers(procs, pipes, start)
        errors += worker_errors
        cpu += worker_cpu
    return MutationResult(
        clients=clients,
        via=via,
        keyed=keyed,
        watchers=watchers,
        seconds=elapsed,
        acknowledged=ok,
        per_second=ok / seconds,
        lost_updates=(start + ok) - final,
        watcher_lost=lost,
        watcher_duplicated=dup,
        watcher_out_of_order=ooo,
        client_cpu_seconds=cpu,
        errors=errors,
    )


async def increment_once(base_url: str, counter: str) -> int:
    client = KeepAliveClient(base_url)
    await client.open()
    try:
        reply = await client.graphql(INCREMENT, {"n": counter})
        return reply["data"]["incrementCounter"]["value"]
    finally:
        client.close()
