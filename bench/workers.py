"""Subscriber worker processes, driven over a pipe.

A worker opens its share of subscribers and reports "ready"; then, for
every counter value that all of its subscribers have received, it reports
("done", value, first receipt, last receipt). On "finish" it sends a
summary (order check, errors, its CPU time) and exits.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import time
from multiprocessing.connection import Connection

from bench.gqlws import Subscriber, check_order, connect


async def _run(conn: Connection, url: str, counter: str, count: int, report_each: bool) -> None:
    raise_open_file_limit()
    loop = asyncio.get_running_loop()
    progress: dict[int, list[int]] = {}  # value -> [received, first, last]

    def on_event(value: int, now: int) -> None:
        entry = progress.get(value)
        if entry is None:
            entry = progress[value] = [0, now, now]
        entry[0] += 1
        entry[2] = now
        if entry[0] == count and (report_each or value == watch_for[0]):
            conn.send(("done", value, entry[1], entry[2]))

    watch_for = [0]  # in quiet mode, the one value the driver waits for

    subscribers: list[Subscriber] = []
    for start in range(0, count, 100):  # connect in bursts of 100
        batch = [connect(url, counter, on_event) for _ in range(start, min(count, start + 100))]
        subscribers += await asyncio.gather(*batch)
    conn.send(("ready",))
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


def raise_open_file_limit() -> None:
    """Thousands of sockets need thousands of file descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def worker(conn: Connection, url: str, counter: str, count: int, report_each: bool) -> None:
    asyncio.run(_run(conn, url, counter, count, report_each))


def start_workers(url: str, counter: str, total: int, processes: int, report_each: bool = True):
    """Starts the workers; returns (processes, pipes) once all are ready.

    With `report_each` a worker reports every value that all of its
    subscribers received; without, only values the driver asks for with
    ("watch", value), so that long runs do not flood the pipe."""
    context = multiprocessing.get_context("spawn")
    shares = [total // processes + (1 if n < total % processes else 0) for n in range(processes)]
    procs, pipes = [], []
    for share in shares:
        if not share:
            continue
        parent, child = context.Pipe()
        proc = context.Process(
            target=worker, args=(child, url, counter, share, report_each), daemon=True
        )
        proc.start()
        procs.append(proc)
        pipes.append(parent)
    for pipe in pipes:
        if not pipe.poll(300):
            raise TimeoutError("a worker did not connect its subscribers within 300 s")
        assert pipe.recv() == ("ready",)
    return procs, pipes


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
