"""Compare mode: the suite against us and the reference peer, each
benchmark on fresh processes of both (us first, then the peer), printed as
one table with the ratios and issue #14's targets.

A target is a ratio to the peer (`ratio`: ours/peer must reach it when
higher is better, stay under it when lower is), a limit on our own figure
(`limit`), or both. Rows without a peer figure are ours alone: the counter
socket (the peer has none: its ratio is to the peer's HTTP mutations, the
only write path it has) and the 50,000-connection capacity run (the peer
would need ~2 GB and minutes for it; its memory per connection is in the
10,000 row).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import fanout, memory, mutations, servers


@dataclass
class Row:
    metric: str
    ours: float
    peer: float | None
    better: str  # "higher" or "lower"
    ratio_target: float | None = None  # ours/peer must reach it (higher) or stay under it
    limit: float | None = None  # our own figure must reach it (higher) or stay under it
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.peer is None:
            return None
        return self.ours / self.peer if self.peer else math.inf

    @property
    def met(self) -> bool | None:
        """None when the row has no target."""
        checks: list[bool] = []
        ratio = self.ratio
        if self.ratio_target is not None and ratio is not None:
            checks.append(self._holds(ratio, self.ratio_target))
        if self.limit is not None:
            checks.append(self._holds(self.ours, self.limit))
        return all(checks) if checks else None

    def _holds(self, figure: float, target: float) -> bool:
        if math.isnan(figure):
            return False
        return figure >= target if self.better == "higher" else figure <= target

    def target_text(self) -> str:
        sign = ">=" if self.better == "higher" else "<="
        parts = []
        if self.limit is not None:
            parts.append(f"{sign} {self.limit:,.6g}")
        if self.ratio_target is not None:
            parts.append(f"{sign} {self.ratio_target:.2g}x")
        return " and ".join(parts)


@dataclass
class Settings:
    subscribers: int = 1000
    events: int = 100
    big_subscribers: int = 10000
    big_events: int = 20
    big_processes: int = 2
    clients: int = 32
    seconds: float = 10.0
    watchers: int = 100
    connections: int = 10000
    connection_processes: int = 2
    capacity: int = 50000
    capacity_processes: int = 4
    ours_checkout: Path = servers.PROJECT


def _both(
    run: Callable[[servers.Running], Any], ours_checkout: Path, peer: bool = True
) -> tuple[Any, Any]:
    starts: list[Callable[[], servers.Running]] = [lambda: servers.ours(ours_checkout)]
    if peer:
        starts.append(servers.peer)
    results = []
    for start in starts:
        server = start()
        try:
            results.append(run(server))
        finally:
            server.stop()
    return results[0], (results[1] if peer else None)


def run(settings: Settings) -> tuple[list[Row], list[str]]:
    """The rows, and every run that was not clean (lost, duplicated or
    reordered events, lost updates, failed connections)."""
    s = settings
    rows: list[Row] = []
    results: list[tuple[str, Any]] = []

    def both(name: str, job: Callable[[servers.Running], Any], peer: bool = True):
        ours, theirs = _both(job, s.ours_checkout, peer)
        results.append((f"{name} ours", ours))
        if theirs is not None:
            results.append((f"{name} peer", theirs))
        return ours, theirs

    if s.subscribers:
        fan, fan_p = both("fanout", lambda r: fanout.run(r.url, s.subscribers, s.events))
        rows += [
            Row(
                f"fan-out {s.subscribers:,}: delivered msgs/s",
                fan.messages_per_second,
                fan_p.messages_per_second,
                "higher",
                10,
            ),
            Row(f"fan-out {s.subscribers:,}: last receipt p50 ms", fan.last_p50_ms,
                fan_p.last_p50_ms, "lower", 0.1),
            Row(f"fan-out {s.subscribers:,}: last receipt p99 ms", fan.last_p99_ms,
                fan_p.last_p99_ms, "lower"),
        ]  # fmt: skip
    if s.big_subscribers:
        big, big_p = both(
            "fanout-big",
            lambda r: fanout.run(
                r.url, s.big_subscribers, s.big_events, s.big_processes, probe=True
            ),
        )
        n = f"{s.big_subscribers:,}"
        rows += [
            Row(f"fan-out {n}: last receipt p50 ms", big.last_p50_ms, big_p.last_p50_ms,
                "lower", limit=150),
            Row(f"fan-out {n}: last receipt p99 ms", big.last_p99_ms, big_p.last_p99_ms, "lower"),
            Row(f"fan-out {n}: delivered msgs/s", big.messages_per_second,
                big_p.messages_per_second, "higher"),
            Row("  probe query, idle: p50 ms", big.probe_idle_p50_ms, big_p.probe_idle_p50_ms,
                "lower"),
            Row("  probe query during fan-out: p50 ms", big.probe_p50_ms, big_p.probe_p50_ms,
                "lower"),
            Row("  probe query during fan-out: p99 ms", big.probe_p99_ms, big_p.probe_p99_ms,
                "lower"),
            Row("  probe query during fan-out: max ms", big.probe_max_ms, big_p.probe_max_ms,
                "lower", note=f"{big.probe_requests} / {big_p.probe_requests} probes"),
        ]  # fmt: skip
    if s.clients:
        plain, plain_p = both("mutations", lambda r: mutations.run(r.url, s.clients, s.seconds))
        watched, watched_p = both(
            "watched", lambda r: mutations.run(r.url, s.clients, s.seconds, s.watchers)
        )
        sock, _ = both(
            "socket",
            lambda r: mutations.run(r.url, s.clients, s.seconds, via="socket"),
            peer=False,
        )
        sock_w, _ = both(
            "socket-watched",
            lambda r: mutations.run(r.url, s.clients, s.seconds, s.watchers, via="socket"),
            peer=False,
        )
        c, w = s.clients, s.watchers
        rows += [
            Row(f"incrementCounter/s, {c} HTTP clients", plain.per_second, plain_p.per_second,
                "higher", 2),
            Row(f"incrementCounter/s, {c} HTTP clients, {w} watching", watched.per_second,
                watched_p.per_second, "higher", 10),
            Row(f"counter socket increments/s, {c} clients", sock.per_second, plain_p.per_second,
                "higher", 2, note="peer: its HTTP figure"),
            Row(f"counter socket increments/s, {c} clients, {w} watching", sock_w.per_second,
                watched_p.per_second, "higher", 10, note="peer: its HTTP figure"),
        ]  # fmt: skip
    if s.connections:
        mem, mem_p = both(
            "memory",
            lambda r: memory.run(r.url, r.pid, s.connections, s.connection_processes),
        )
        rows.append(
            Row(f"KB per idle subscribed connection ({s.connections:,})", mem.per_connection_kb,
                mem_p.per_connection_kb, "lower", 1 / 3, limit=14)
        )  # fmt: skip
    if s.capacity:
        cap, _ = both(
            "capacity",
            lambda r: memory.run(r.url, r.pid, s.capacity, s.capacity_processes),
            peer=False,
        )
        n = f"{s.capacity:,}"
        rows += [
            Row(f"{n} idle subscribed connections: connected", cap.connections, None, "higher",
                limit=s.capacity),
            Row(f"{n}: failed or not attempted", cap.failed, None, "lower", limit=0),
            Row(f"{n}: KB per connection", cap.per_connection_kb, None, "lower", limit=14),
            Row(f"{n}: seconds to connect", cap.connect_seconds, None, "lower",
                note=f"server RSS {cap.rss_after_mb:,.0f} MB"),
        ]  # fmt: skip
    problems = [f"{name}: {result}" for name, result in results if not result.clean]
    return rows, problems


def _figure(value: float) -> str:
    """Counts without decimals, measurements with one."""
    if math.isfinite(value) and (value == int(value) or abs(value) >= 10000):
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def print_rows(rows: list[Row], problems: list[str]) -> None:
    print(f"{'metric':54} {'ours':>10} {'strawberry':>11} {'ratio':>8}  {'target':22} met")
    for row in rows:
        met = {None: "", True: "met", False: "NOT met"}[row.met]
        peer = "-" if row.peer is None else _figure(row.peer)
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
        ours, target = _figure(row.ours), row.target_text()
        line = f"{row.metric:54} {ours:>10} {peer:>11} {ratio:>8}  {target:22} {met}"
        print(line + (f"  ({row.note})" if row.note else ""))
    for problem in problems:
        print("NOT CLEAN:", problem)
