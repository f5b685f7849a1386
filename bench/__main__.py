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

from bench import compare, fanout, memory, mutations


def print_fanout(result: fanout.FanoutResult) -> None:
    print(
        f"fan-out: {result.subscribers} subscribers x {result.events} events\n"
        f"  delivered      {result.delivered} messages in {result.seconds:.2f} s"
        f" = {result.messages_per_second:,.0f} msgs/s\n"
        f"  first receipt  p50 {result.first_p50_ms:.1f} ms  p99 {result.first_p99_ms:.1f} ms\n"
        f"  last receipt   p50 {result.last_p50_ms:.1f} ms  p99 {result.last_p99_ms:.1f} ms\n"
        f"  lost {result.lost}  duplicated {result.duplicated}  out of order {result.out_of_order}"
        f"  timed out {result.timed_out}  errors {len(result.errors)}\n"
        f"  client CPU     {result.client_cpu_seconds:.2f} s"
        f" ({100 * result.client_cpu_seconds / max(result.seconds, 1e-9):.0f}% of one core)"
    )


def print_mutations(result: mutations.MutationResult) -> None:
    print(
        f"mutations: {result.clients} clients, {result.watchers} watchers, {result.seconds:.1f} s\n"
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

    mut = commands.add_parser("mutations", help="C clients sending incrementCounter for S seconds")
    mut.add_argument("--url", default="http://127.0.0.1:8000")
    mut.add_argument("--clients", type=int, default=32)
    mut.add_argument("--seconds", type=float, default=10.0)
    mut.add_argument("--watchers", type=int, default=0)
    mut.add_argument("--processes", type=int, default=1, help="client processes")

    mem = commands.add_parser("memory", help="server RSS per idle subscribed connection")
    mem.add_argument("--url", default="http://127.0.0.1:8000")
    mem.add_argument("--server-pid", type=int, required=True)
    mem.add_argument("--connections", type=int, default=1000)
    mem.add_argument("--processes", type=int, default=1, help="client processes")

    cmp = commands.add_parser("compare", help="the suite against us and the Strawberry peer")
    cmp.add_argument("--subscribers", type=int, default=1000)
    cmp.add_argument("--events", type=int, default=100)
    cmp.add_argument("--clients", type=int, default=32)
    cmp.add_argument("--seconds", type=float, default=10.0)
    cmp.add_argument("--watchers", type=int, default=100)
    cmp.add_argument("--connections", type=int, default=1000)

    args = parser.parse_args(argv)
    if args.command == "compare":
        rows = compare.run(
            args.subscribers,
            args.events,
            args.clients,
            args.seconds,
            args.watchers,
            args.connections,
        )
        if args.json:
            print(json.dumps([asdict(row) | {"ratio": row.ratio, "met": row.met} for row in rows]))
        else:
            compare.print_rows(rows)
        return 0
    if args.command == "fanout":
        result = fanout.run(args.url, args.subscribers, args.events, args.processes)
        show = print_fanout
    elif args.command == "mutations":
        result = mutations.run(args.url, args.clients, args.seconds, args.watchers, args.processes)
        show = print_mutations
    else:
        result = memory.run(args.url, args.server_pid, args.connections, args.processes)
        show = print_memory
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        show(result)
    return 0 if result.clean else 1


if __name__ == "__main__":
    sys.exit(main())
