"""Subscriber worker processes, driven over a pipe.

A worker opens its share of subscribers, a window of handshakes at a time,
and reports ("ready", connected, failed, some errors, seconds); then, for
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

#: Handshakes in flight across all workers, under the listen backlog.
HANDSHAKES_IN_FLIGHT = 96
#: Seconds for one connection to be open, upgraded and acknowledged.
CONNECT_TIMEOUT = 30.0
#: Failures after which a worker stops trying (or 1% of its share).
GIVE_UP_AFTER = 100
#: Seconds a worker spends connecting at most.
CONNECT_DEADLINE = 240.0


async def _run(
    conn: Connection,
    url: str,
    counter: str,
    count: int,
    report_each: bool,
    sources: list[str] | None,
    offset: int,
    in_flight: int,
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
    # A window of handshakes in flight, not bursts: a burst waits for its
    # slowest, and more than the server's listen backlog (Tornado: 128)
    # at once overflows it, so that handshakes stall for seconds in SYN
    # retries instead of measuring the server.
    window = asyncio.Semaphore(in_flight)
    # Bounded even against a server that stops accepting (out of
    # descriptors): each connection has CONNECT_TIMEOUT, and after
    # GIVE_UP_AFTER failures, or past CONNECT_DEADLINE, the rest are
    # counted as failed without trying.
    give_up = max(GIVE_UP_AFTER, count // 100)
    deadline = began + CONNECT_DEADLINE
    skipped = [0]

    async def one(n: int) -> None:
        async with window:
            if len(failures) >= give_up or time.monotonic() > deadline:
                skipped[0] += 1
                return
            try:
                subscriber = await asyncio.wait_for(
                    connect(url, counter, on_event, source(n)), CONNECT_TIMEOUT
                )
            except Exception as error:  # any failure to connect is counted, not fatal
                failures.append(f"{type(error).__name__}: {error}")
            else:
                subscribers.append(subscriber)

    await asyncio.gather(*(one(n) for n in range(count)))
    if skipped[0]:
        failures.append(
            f"{skipped[0]} not attempted after {len(failures)} failures or the deadline"
        )
    connected[0] = len(subscribers)
    failed = count - len(subscribers)
    conn.send(("ready", len(subscribers), failed, failures[:3], time.monotonic() - began))
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
    in_flight: int = 100,
) -> None:
    asyncio.run(_run(conn, url, counter, count, report_each, sources, offset, in_flight))


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
    in_flight = max(8, HANDSHAKES_IN_FLIGHT // processes)
    began = time.monotonic()
    procs, pipes = [], []
    offset = 0
    for share in shares:
        if not share:
            continue
        parent, child = context.Pipe()
        proc = context.Process(
            target=worker,
            args=(child, url, counter, share, report_each, sources, offset, in_flight),
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
