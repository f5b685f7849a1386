"""Compare mode: the suite against us and the reference peer, alternately,
each benchmark on fresh processes of both, with the ratios and targets."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from bench import fanout, memory, mutations, servers


@dataclass
class Row:
    metric: str
    ours: float
    peer: float
    better: str  # "higher" or "lower"
    target: float  # the ratio ours/peer must reach (higher) or stay under (lower)

    @property
    def ratio(self) -> float:
        return self.ours / self.peer if self.peer else math.inf

    @property
    def met(self) -> bool:
        return self.ratio >= self.target if self.better == "higher" else self.ratio <= self.target


def _both(run: Callable[[servers.Running], object]) -> tuple[object, object]:
    results = []
    for start in (servers.ours, servers.peer):
        server = start()
        try:
            results.append((run(server), server.cpu_seconds()))
        finally:
            server.stop()
    return results[0], results[1]


def run(
    subscribers: int, events: int, clients: int, seconds: float, watchers: int, connections: int
) -> list[Row]:
    rows: list[Row] = []
    (fan_ours, _), (fan_peer, _) = _both(lambda s: fanout.run(s.url, subscribers, events))
    rows.append(
        Row(
            f"fan-out msgs/s ({subscribers} subscribers)",
            fan_ours.messages_per_second,
            fan_peer.messages_per_second,
            "higher",
            10,
        )
    )
    rows.append(
        Row("fan-out last receipt p50 ms", fan_ours.last_p50_ms, fan_peer.last_p50_ms, "lower", 0.1)
    )
    rows.append(
        Row(
            "fan-out last receipt p99 ms",
            fan_ours.last_p99_ms,
            fan_peer.last_p99_ms,
            "lower",
            math.inf,
        )
    )
    (mut_ours, _), (mut_peer, _) = _both(lambda s: mutations.run(s.url, clients, seconds))
    rows.append(
        Row(
            f"incrementCounter/s ({clients} clients)",
            mut_ours.per_second,
            mut_peer.per_second,
            "higher",
            2,
        )
    )
    (watch_ours, _), (watch_peer, _) = _both(
        lambda s: mutations.run(s.url, clients, seconds, watchers)
    )
    rows.append(
        Row(
            f"incrementCounter/s with {watchers} watching",
            watch_ours.per_second,
            watch_peer.per_second,
            "higher",
            10,
        )
    )
    (mem_ours, _), (mem_peer, _) = _both(lambda s: memory.run(s.url, s.pid, connections))
    rows.append(
        Row(
            f"KB per idle subscribed connection ({connections})",
            mem_ours.per_connection_kb,
            mem_peer.per_connection_kb,
            "lower",
            1 / 3,
        )
    )
    problems = [
        f"{name}: {result}"
        for name, result in (
            ("fanout ours", fan_ours),
            ("fanout peer", fan_peer),
            ("mutations ours", mut_ours),
            ("mutations peer", mut_peer),
            ("watched ours", watch_ours),
            ("watched peer", watch_peer),
            ("memory ours", mem_ours),
            ("memory peer", mem_peer),
        )
        if not result.clean
    ]
    for problem in problems:
        print("NOT CLEAN:", problem)
    return rows


def print_rows(rows: list[Row]) -> None:
    print(f"{'metric':52} {'ours':>10} {'strawberry':>11} {'ratio':>8}  target")
    for row in rows:
        goal = (
            ""
            if math.isinf(row.target)
            else (
                f"{'>=' if row.better == 'higher' else '<='} {row.target:.2g}x "
                f"{'met' if row.met else 'NOT met'}"
            )
        )
        print(f"{row.metric:52} {row.ours:10,.1f} {row.peer:11,.1f} {row.ratio:7.2f}x  {goal}")
