"""`python -m bench SUBCOMMAND`: fanout, mutations, memory, compare.

Each run is bounded in count and time, stops by itself, and talks only to
servers on this machine. Exit status 1 when any event was lost,
duplicated or reordered, or any update lost.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from bench import compare, fanout, memory, mutations


def print_fanout(result: fanout.FanoutResult) -> None:
    print(
        f"fan-out: {result.subscribers} subscribers x {result.events} events"
        f" (connected in {result.connect_seconds:.1f} s)\n"
        f"  delivered      {result.delivered} messages in {result.seconds:.2f} s"
        f" = {result.messages_per_second:,.0f} msgs/s\n"
        f"  first receipt  p50 {result.first_p50_ms:.1f} ms  p99 {result.first_p99_ms:.1f} ms\n"
        f"  last receipt   p50 {result.last_p50_ms:.1f} ms  p99 {result.last_p99_ms:.1f} ms\n"
        f"  lost {result.lost}  duplicated {result.duplicated}  out of order {result.out_of_order}"
        f"  timed out {result.timed_out}  errors {len(result.errors)}\n"
        f"  client CPU     {result.client_cpu_seconds:.2f} s"
        f" ({100 * result.client_cpu_seconds / max(result.seconds, 1e-9):.0f}% of one core)"
    )
    if result.probe_requests:
        print(
            f"  probe query    idle p50 {result.probe_idle_p50_ms:.2f} ms; during the fan-out"
            f" ({result.probe_requests} requests) p50 {result.probe_p50_ms:.2f} ms"
            f"  p99 {result.probe_p99_ms:.2f} ms  max {result.probe_max_ms:.2f} ms"
            f"  failed {result.probe_failed}"
        )
    if result.errors:
        print(f"  errors         {result.errors[:5]}")


def print_mutations(result: mutations.MutationResult) -> None:
    print(
        f"mutations via {result.via}{' (keyed)' if result.keyed else ''}:"
        f" {result.clients} clients, {result.watchers} watchers,"
        f" {result.seconds:.1f} s\n"
        f"  acknowledged   {result.acknowledged} = {result.per_second:,.0f}/s\n"
        f"  lost updates   {result.lost_updates}\n"
        f"  watchers       lost {result.watcher_lost}  duplicated {result.watcher_duplicated}"
        f"  out of order {result.watcher_out_of_order}\n"
        f"  client CPU     {result.client_cpu_seconds:.2f} s"
        f" ({100 * result.client_cpu_seconds / max(result.seconds, 1e-9):.0f}% of one core)\n"
        f"  errors         {result.errors or 'none'}"
    )


def print_memory(result: memory.MemoryResult) -> None:
    print(
        f"memory: {result.connections} idle subscribed connections\n"
        f"  server RSS     {result.rss_before_mb:.1f} MB -> {result.rss_after_mb:.1f} MB"
        f" = {result.per_connection_kb:.1f} KB per connection\n"
        f"  took           {result.connect_seconds:.1f} s to connect,"
        f" {result.ready_seconds:.1f} s until every one had an event\n"
        f"  failed         {result.failed}\n"
        f"  errors         {result.errors or 'none'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    commands = parser.add_subparsers(dest="command", required=True)

    fan = commands.add_parser("fanout", help="N subscribers on one counter, M events in turn")
    fan.add_argument("--url", default="http://127.0.0.1:8000")
    fan.add_argument("--subscribers", type=int, default=1000)
    fan.add_argument("--events", type=int, default=100)
    fan.add_argument("--processes", type=int, default=1, help="client processes")
    fan.add_argument(
        "--probe", action="store_true", help="time a cheap query throughout (bench.probe)"
    )

    mut = commands.add_parser("mutations", help="C clients incrementing one counter for S seconds")
    mut.add_argument("--url", default="http://127.0.0.1:8000")
    mut.add_argument("--clients", type=int, default=32)
    mut.add_argument("--seconds", type=float, default=10.0)
    mut.add_argument("--watchers", type=int, default=0)
    mut.add_argument("--processes", type=int, default=1, help="client processes")
    mut.add_argument(
        "--via",
        choices=mutations.VIAS,
        default="http",
        help="POST /graphql, or the counter socket /ws/counter/{name} (ours only)",
    )
    mut.add_argument(
        "--keyed",
        action="store_true",
        help="each increment with a fresh clientMutationId, as the counter page sends them",
    )

    mem = commands.add_parser("memory", help="server RSS per idle subscribed connection")
    mem.add_argument("--url", default="http://127.0.0.1:8000")
    mem.add_argument("--server-pid", type=int, required=True)
    mem.add_argument("--connections", type=int, default=1000)
    mem.add_argument(
        "--processes", type=int, default=1, help="client processes (~15,000 connections each)"
    )
    mem.add_argument(
        "--sources",
        type=int,
        default=None,
        help="loopback source addresses to connect from (default: 1 per 20,000 connections)",
    )

    cmp = commands.add_parser("compare", help="the suite against us and the Strawberry peer")
    defaults = compare.Settings()
    for name, value in vars(defaults).items():
        if name == "ours_checkout":
            continue
        cmp.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    cmp.add_argument(
        "--ours-checkout",
        type=Path,
        default=defaults.ours_checkout,
        help="the checkout whose server.py is ours (default: this one)",
    )

    args = parser.parse_args(argv)
    if args.command == "compare":
        settings = compare.Settings(
            **{name: getattr(args, name) for name in vars(compare.Settings())}
        )
        rows, problems = compare.run(settings)
        if args.json:
            print(
                json.dumps(
                    {
                        "rows": [
                            asdict(row) | {"ratio": row.ratio, "met": row.met} for row in rows
                        ],
                        "problems": problems,
                    }
                )
            )
        else:
            compare.print_rows(rows, problems)
        return 1 if problems else 0
    if args.command == "fanout":
        result = fanout.run(args.url, args.subscribers, args.events, args.processes, args.probe)
        show = print_fanout
    elif args.command == "mutations":
        result = mutations.run(
            args.url,
            args.clients,
            args.seconds,
            args.watchers,
            args.processes,
            args.via,
            args.keyed,
        )
        show = print_mutations
    else:
        result = memory.run(
            args.url, args.server_pid, args.connections, args.processes, args.sources
        )
        show = print_memory
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        show(result)
    return 0 if result.clean else 1


if __name__ == "__main__":
    sys.exit(main())
