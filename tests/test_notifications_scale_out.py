"""Notifications across two server processes (PostgreSQL, Redis): every
change made through either process reaches every follower's tabs on
either, once each, in their stream's order, with nothing lost; and the
Redis history gives a tab that comes back exactly what it missed. One
process on PostgreSQL alone keeps the history in the database."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import pytest

from tests.clients import CounterSocket, GraphQLSocket
from tests.cluster import Process
from tests.test_notifications import FOLLOW, NOTIFICATIONS
from tests.test_recovery_scale_out import sign_up

CHANGES_PER_WRITER = 100


async def notified(socket: GraphQLSocket, count: int) -> tuple[list[dict[str, Any]], int]:
    """The first `count` notifications a tab hears, and how many data-less
    notices (a hole, refetch) came among them."""
    events, notices = [], 0
    while len(events) < count:
        payload = await socket.next_payload("n", timeout=30)
        if "data" not in payload:
            notices += 1
            continue
        events.append(payload)
    return events, notices


async def change_values(writer: CounterSocket, count: int) -> list[int]:
    """Sends `count` increments at once; the values their results report."""
    increment = orjson.dumps({"type": "increment"}).decode()
    for _ in range(count):
        await writer.connection.write_message(increment)
    values = []
    while len(values) < count:
        frame = await writer.receive(timeout=30)
        if frame["type"] == "incrementResult":
            values.append(frame["result"]["value"])
    return values


async def tab(process: Process, token: str) -> GraphQLSocket:
    """A tab subscribed to its user's notifications from now on."""
    socket = await process.graphql_socket(token)
    await socket.subscribe("n", NOTIFICATIONS, extensions={"since": "now"})
    start = await socket.next_payload("n")
    assert start["extensions"]["stream"]["offset"] == 0
    return socket


def summary(events: list[dict[str, Any]]) -> tuple[list[int], list[int]]:
    """(offsets, values) in arrival order."""
    return (
        [event["extensions"]["stream"]["offset"] for event in events],
        [event["data"]["channel"]["value"] for event in events],
    )


@pytest.mark.gen_test(timeout=180)
async def test_hundreds_of_changes_on_both_processes_reach_every_followers_tabs_once_in_order(
    pair,
):
    a, b = pair
    ada, bob, cyd = await sign_up(a, "ada"), await sign_up(b, "bob"), await sign_up(a, "cyd")
    for process, token in ((a, ada), (b, bob)):
        reply = await process.graphql_async(FOLLOW, {"n": "busy"}, token)
        assert "errors" not in reply, reply
    tabs = {"ada on a": await tab(a, ada), "ada on b": await tab(b, ada), "bob": await tab(b, bob)}
    # Anonymous visitors on both processes, and two signed-in users: Ada
    # (who hears of everyone's changes but her own) and Cyd (who follows nothing).
    writers = {
        "anonymous on a": await a.counter_socket("busy"),
        "anonymous on b": await b.counter_socket("busy"),
        "ada": await b.counter_socket("busy", ada),
        "cyd": await a.counter_socket("busy", cyd),
    }
    total = CHANGES_PER_WRITER * len(writers)
    listening = {
        name: asyncio.ensure_future(notified(socket, total if name == "bob" else total - 100))
        for name, socket in tabs.items()
    }
    made = await asyncio.gather(*(change_values(w, CHANGES_PER_WRITER) for w in writers.values()))
    by_writer = dict(zip(writers, made, strict=True))
    assert sorted(v for values in made for v in values) == list(range(1, total + 1))
    not_adas = sorted(set(range(1, total + 1)) - set(by_writer["ada"]))

    heard = {name: await future for name, future in listening.items()}
    for name, (events, notices) in heard.items():
        assert notices == 0, name  # no hole anywhere: nothing was lost
        offsets, values = summary(events)
        assert offsets == list(range(1, len(events) + 1)), name  # each once, in order
        # Offsets follow commit order, and so do the values of one counter.
        assert values == sorted(values), name
    assert summary(heard["bob"][0])[1] == list(range(1, total + 1))
    for name in ("ada on a", "ada on b"):
        assert summary(heard[name][0])[1] == not_adas
        assert {
            e["data"]["channel"]["actor"]["username"]
            for e in heard[name][0]
            if e["data"]["channel"]["actor"]
        } == {"cyd"}
    for socket in tabs.values():
        await socket.nothing_more(0.3)

    # A tab that comes back on the other process from the start of the run
    # gets all of Ada's notifications from the Redis history, then live ones.
    epoch = heard["ada on a"][0][0]["extensions"]["stream"]["epoch"]
    back = await b.graphql_socket(ada)
    await back.subscribe("n", NOTIFICATIONS, extensions={"since": {"offset": 0, "epoch": epoch}})
    replayed, notices = await notified(back, len(not_adas))
    assert notices == 0
    assert summary(replayed) == (list(range(1, len(not_adas) + 1)), not_adas)
    reply = await a.graphql_async('mutation { incrementCounter(name: "busy") { value } }')
    assert "errors" not in reply, reply
    (live,), _ = await notified(back, 1)
    assert summary([live]) == ([len(not_adas) + 1], [total + 1])


@pytest.mark.gen_test(timeout=60)
async def test_one_process_on_postgresql_keeps_notifications_in_the_database(tmp_path, postgres):
    database = postgres.create_database(f"t_{uuid.uuid4().hex[:10]}")
    alone = Process(tmp_path, database, redis_url="")
    try:
        await asyncio.to_thread(alone.healthy)
        ada, bob = await sign_up(alone, "ada"), await sign_up(alone, "bob")
        for token in (ada, bob):
            reply = await alone.graphql_async(FOLLOW, {"n": "kept"}, token)
            assert "errors" not in reply, reply
        first = await tab(alone, ada)  # at offset 0
        first.close()
        values = await change_values(await alone.counter_socket("kept"), 30)  # all missed

        back = await alone.graphql_socket(ada)
        await back.subscribe("n", NOTIFICATIONS, extensions={"since": "now"})
        now = (await back.next_payload("n"))["extensions"]["stream"]
        assert now["offset"] == 30
        again = await alone.graphql_socket(ada)
        start = {"offset": 0, "epoch": now["epoch"]}
        await again.subscribe("n", NOTIFICATIONS, extensions={"since": start})
        replayed, notices = await notified(again, 30)
        assert notices == 0
        assert summary(replayed) == (list(range(1, 31)), values)
        # Bob's notifications of the same changes are a stream of his own.
        bobs = await alone.graphql_socket(bob)
        await bobs.subscribe("n", NOTIFICATIONS, extensions={"since": start})
        assert summary((await notified(bobs, 30))[0]) == (list(range(1, 31)), values)
        await bobs.nothing_more(0.2)
    finally:
        alone.stop()
