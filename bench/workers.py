"""Subscriber worker processes, driven over a pipe.

A worker opens its share of subscribers and reports "ready"; then, for
every counter value that all of its subscribers have received, it reports
("done", value, first receipt, last receipt). On "finish" it sends a
summary (order check, errors, its CPU time) and exits.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from bench.gqlws import Subscriber, check_order, connect
from bench.limits import raise_open_file_limit


async def _run(
    conn: Connection,
    url: str,
    counter: str,
    count: int,
    report_each: bool,
    sources: list[str] | None,
    offset: int,
) -> None:
    raise_open_file_limit(count + 1000)
    loop = asyncio.get_running_loop()
    progress: dict[int, list[int]] = {}  # value -> [received, first, last]
    connected = [count]  # how many subscribers an event must reach

    def on_event(value: int, now: int) -> None:
        entry = progress.get(value)
        if entry is None:
            entry = progress[value] = [0, now, now]
        entry[0] += 1
        entry[2] = now
        if entry[0] == connected[0] and (report_each or value == watch_for[0]):
            conn.send(("done", value, entry[1], entry[2]))

    watch_for = [0]  # in quiet mode, the one value the driver waits for

    def source(n: int) -> str | None:
        return None if not sources else sources[(offset + n) % len(sources)]

    subscribers: list[Subscriber] = []
    failures: list[str] = []
    began = time.monotonic()
    for start in range(0, count, 100):  # connect in bursts of 100
        batch = [
            connect(url, counter, on_event, source(n))
            for n in range(start, min(count, start + 100))
        ]
        for outcome in await asyncio.gather(*batch, return_exceptions=True):
            if isinstance(outcome, BaseException):
                failures.append(f"{type(outcome).__name__}: {outcome}")
            else:
                subscribers.append(outcome)
    connected[0] = len(subscribers)
    conn.send(("ready", len(subscribers), len(failures), failures[:3], time.monotonic() - began))
    cpu_ready = time.process_time()

    finished = loop.create_future()

    def command() -> None:
        message = conn.recv()
        if message[0] == "watch":
            watch_for[0] = message[1]
            entry = progress.get(message[1])
            if entry is not None and entry[0] == count:
                conn.send(("done", message[1], entry[1], entry[2]))
        elif not finished.done():
            finished.set_result(message)

    loop.add_reader(conn.fileno(), command)
    _, since = await finished
    cpu = time.process_time() - cpu_ready
    lost = duplicated = out_of_order = 0
    errors: list[str] = []
    for subscriber in subscribers:
        values = [v for v in subscriber.received.values if v > since]
        expected = list(range(since + 1, max(values, default=since) + 1))
        a, b, c = check_order(values, expected)
        lost, duplicated, out_of_order = lost + a, duplicated + b, out_of_order + c
        errors += subscriber.received.errors
        subscriber.transport.disconnect()
    conn.send(("summary", lost, duplicated, out_of_order, errors[:5], cpu))


def worker(
    conn: Connection,
    url: str,
    counter: str,
    count: int,
    report_each: bool,
    sources: list[str] | None = None,
    offset: int = 0,
) -> None:
    asyncio.run(_run(conn, url, counter, count, report_each, sources, offset))


@dataclass
class Started:
    """Worker processes with their subscribers connected (or failed)."""

    procs: list[BaseProcess]
    pipes: list[Connection]
    connected: int
    failed: int
    errors: list[str]
    #: From starting the workers until the last of them was ready.
    seconds: float


def start_workers(
    url: str,
    counter: str,
    total: int,
    processes: int,
    report_each: bool = True,
    sources: list[str] | None = None,
) -> Started:
    """Starts the workers; returns once all are ready.

    With `report_each` a worker reports every value that all of its
    subscribers received; without, only values the driver asks for with
    ("watch", value), so that long runs do not flood the pipe. `sources`:
    loopback addresses to connect from, in turn (bench.limits)."""
    context = multiprocessing.get_context("spawn")
    shares = [total // processes + (1 if n < total % processes else 0) for n in range(processes)]
    began = time.monotonic()
    procs, pipes = [], []
    offset = 0
    for share in shares:
        if not share:
            continue
        parent, child = context.Pipe()
        proc = context.Process(
            target=worker,
            args=(child, url, counter, share, report_each, sources, offset),
            daemon=True,
        )
        proc.start()
        procs.append(proc)
        pipes.append(parent)
        offset += share
    connected = failed = 0
    errors: list[str] = []
    for pipe in pipes:
        if not pipe.poll(300):
            raise TimeoutError("a worker did not connect its subscribers within 300 s")
        kind, ok, bad, sample, _seconds = pipe.recv()
        assert kind == "ready"
        connected, failed, errors = connected + ok, failed + bad, errors + sample
    return Started(procs, pipes, connected, failed, errors, time.monotonic() - began)


def finish_workers(procs, pipes, since: int) -> tuple[int, int, int, list[str], float]:
    """Ends the workers: (lost, duplicated, out of order, errors, CPU s)
    over the values after `since`."""
    lost = duplicated = out_of_order = 0
    errors: list[str] = []
    cpu = 0.0
    for pipe in pipes:
        pipe.send(("finish", since))
    for pipe in pipes:
        while (message := pipe.recv())[0] != "summary":
            pass
        lost, duplicated, out_of_order = (
            lost + message[1],
            duplicated + message[2],
            out_of_order + message[3],
        )
        errors += message[4]
        cpu += message[5]
    for proc in procs:
        proc.join(10)
    return lost, duplicated, out_of_order, errors, cpu
