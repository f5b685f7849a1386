"""Recovery in real server processes on PostgreSQL: across two processes
with the history in Redis, a client that drops off one process and comes
back on the other gets every event it missed, in commit order, then live
ones; events made on both processes at once keep one order; a lost
history is a new epoch. One process without Redis keeps it in PostgreSQL."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.clients import GraphQLSocket
from tests.cluster import Process, flush, running_pair, wait_connected

LIBRARY = 'subscription { channel(name: "library") { ... on StoryCreateEvent { type story { title } } ... on LibraryChangeEvent { type totalStories } } }'
CREATE = "mutation($u: String!, $t: String!) { createStory(url: $u, title: $t) { id } }"


async def sign_up(process: Process, username: str) -> str:
    reply = await process.graphql_async(
        'mutation($u: String!) { signUp(username: $u, password: "correct horse") { token } }',
        {"u": username},
    )
    assert "errors" not in reply, reply
    return reply["data"]["signUp"]["token"]


async def create(process: Process, token: str, number: int) -> None:
    reply = await process.graphql_async(
        CREATE, {"u": f"https://example.com/{number}", "t": f"S{number}"}, token
    )
    assert "errors" not in reply, reply


async def received(socket: GraphQLSocket, count: int) -> list[dict[str, Any]]:
    return [await socket.next_payload("lib") for _ in range(count)]


def offsets(payloads: list[dict[str, Any]]) -> list[int]:
    return [payload["extensions"]["stream"]["offset"] for payload in payloads]


def titles(payloads: list[dict[str, Any]]) -> list[str]:
    return [
        p["data"]["channel"]["story"]["title"] for p in payloads if "story" in p["data"]["channel"]
    ]


@pytest.mark.gen_test(timeout=90)
async def test_a_subscriber_that_missed_50_events_resumes_on_the_other_process(pair):
    a, b = pair
    token = await sign_up(a, "commuter")
    on_a = await a.graphql_socket(token)
    await on_a.subscribe("lib", LIBRARY, extensions={"since": "now"})
    assert (await on_a.next_payload("lib"))["extensions"]["stream"]["offset"] == 0
    await create(b, token, 1)
    seen = await received(on_a, 2)
    assert offsets(seen) == [1, 2]
    last = seen[-1]["extensions"]["stream"]
    on_a.close()

    for number in range(2, 27):  # 50 events, made through both processes
        await create(a if number % 2 else b, token, number)

    on_b = await b.graphql_socket(token)
    await on_b.subscribe("lib", LIBRARY, extensions={"since": last})
    during = asyncio.ensure_future(
        asyncio.gather(*(create(a if n % 2 else b, token, n) for n in range(27, 32)))
    )
    caught_up = await received(on_b, 50 + 10)
    await during
    assert offsets(caught_up) == list(range(3, 63))  # no gap, no duplicate
    assert titles(caught_up[:50]) == [f"S{n}" for n in range(2, 27)]
    assert sorted(titles(caught_up[50:]), key=lambda t: int(t[1:])) == [
        f"S{n}" for n in range(27, 32)
    ]
    await create(a, token, 32)
    assert offsets(await received(on_b, 2)) == [63, 64]
    await on_b.nothing_more()


@pytest.mark.gen_test(timeout=90)
async def test_changes_on_both_processes_at_once_reach_every_tab_in_one_order(pair):
    a, b = pair
    token = await sign_up(a, "busy")
    tabs = [await a.graphql_socket(token), await b.graphql_socket(token)]
    for tab in tabs:
        await tab.subscribe("lib", LIBRARY, extensions={"since": "now"})
        await tab.next_payload("lib")
    await asyncio.gather(*(create(a if n % 2 else b, token, n) for n in range(1, 21)))
    heard = [await received(tab, 40) for tab in tabs]
    for events in heard:
        assert offsets(events) == list(range(1, 41))
        # Each story:create is followed by the totals its commit produced.
        totals = [e["data"]["channel"]["totalStories"] for e in events[1::2]]
        assert totals == list(range(1, 21))
    assert titles(heard[0]) == titles(heard[1])


@pytest.mark.gen_test(timeout=60)
async def test_a_lost_redis_history_is_a_new_epoch_and_a_resume_from_before_is_refused(
    pair, redis_server
):
    a, b = pair
    token = await sign_up(a, "amnesiac")
    socket = await a.graphql_socket(token)
    await socket.subscribe("lib", LIBRARY, extensions={"since": "now"})
    await socket.next_payload("lib")
    await create(b, token, 1)
    before = (await received(socket, 2))[-1]["extensions"]["stream"]
    socket.close()
    flush(redis_server)  # the history store is emptied
    await create(b, token, 2)

    back = await b.graphql_socket(token)
    await back.subscribe("lib", LIBRARY, extensions={"since": before})
    notice = await back.next_payload("lib")
    assert "data" not in notice
    stream = notice["extensions"]["stream"]
    assert stream["recovered"] is False
    assert stream["epoch"] != before["epoch"]
    await create(a, token, 3)
    live = await received(back, 2)
    assert offsets(live) == [5, 6]
    assert {p["extensions"]["stream"]["epoch"] for p in live} == {stream["epoch"]}


@pytest.mark.gen_test(timeout=60)
async def test_a_counter_socket_resumes_on_the_other_process(pair):
    a, b = pair
    first = await a.counter_socket("shared")
    await first.send({"type": "increment"})
    mine = await first.receive_type("increment")
    first.close()
    for amount in (10, 100):
        reply = await b.graphql_async(
            'mutation($n: Int) { incrementCounter(name: "shared", amount: $n) { value } }',
            {"n": amount},
        )
        assert "errors" not in reply

    back = await b.counter_socket("shared")
    assert (back.snapshot["value"], back.snapshot["offset"]) == (111, 3)  # type: ignore[attr-defined]
    await back.send({"type": "resume", "offset": mine["offset"], "epoch": mine["epoch"]})
    missed = [await back.receive() for _ in range(2)]
    assert [(m["value"], m["offset"]) for m in missed] == [(11, 2), (111, 3)]
    await back.nothing_more()


@pytest.mark.gen_test(timeout=90)
async def test_with_redis_away_a_resume_is_told_to_refetch_and_live_events_still_come(
    tmp_path, postgres, private_redis
):
    with running_pair(tmp_path, postgres, private_redis) as (a, _b):
        token = await sign_up(a, "stranded")
        socket = await a.graphql_socket(token)
        await socket.subscribe("lib", LIBRARY, extensions={"since": "now"})
        start = (await socket.next_payload("lib"))["extensions"]["stream"]
        socket.close()
        private_redis.stop()
        back = await a.graphql_socket(token)
        await back.subscribe("lib", LIBRARY, extensions={"since": start})
        notice = await back.next_payload("lib")
        assert notice["extensions"]["stream"]["recovered"] is False
        fresh = await a.graphql_socket(token)
        await fresh.subscribe("lib", LIBRARY, extensions={"since": "now"})
        unknown = await fresh.next_payload("lib")
        assert unknown["extensions"]["stream"] == {"recovered": False}  # no position to give
        await create(a, token, 1)  # delivered by this process alone
        assert titles(await received(back, 2)) == ["S1"]
        assert titles(await received(fresh, 2)) == ["S1"]  # and told nothing more
        counter = await a.counter_socket("stranded")
        await counter.send({"type": "resume", "offset": 0, "epoch": "anything"})
        assert (await counter.receive_type("reset"))["recovered"] is False


@pytest.mark.gen_test(timeout=60)
async def test_one_process_on_postgresql_keeps_the_history_in_the_database(tmp_path, postgres):
    database = postgres.create_database(f"t_{uuid.uuid4().hex[:10]}")
    alone = Process(tmp_path, database, redis_url="")
    try:
        await asyncio.to_thread(alone.healthy)
        token = await sign_up(alone, "solo")
        socket = await alone.graphql_socket(token)
        await socket.subscribe("lib", LIBRARY, extensions={"since": "now"})
        start = (await socket.next_payload("lib"))["extensions"]["stream"]
        socket.close()
        for number in range(1, 4):
            await create(alone, token, number)
        back = await alone.graphql_socket(token)
        await back.subscribe("lib", LIBRARY, extensions={"since": start})
        assert offsets(await received(back, 6)) == [1, 2, 3, 4, 5, 6]

        counter = await alone.counter_socket("solo")
        await counter.send({"type": "increment"})
        first = await counter.receive_type("increment")
        counter.close()
        await alone.graphql_async(
            'mutation { incrementCounter(name: "solo", amount: 5) { value } }'
        )
        again = await alone.counter_socket("solo")
        await again.send({"type": "resume", "offset": first["offset"], "epoch": first["epoch"]})
        missed = await again.receive()
        assert (missed["type"], missed["value"], missed["offset"]) == ("increment", 6, 2)
    finally:
        alone.stop()


@pytest.mark.gen_test(timeout=120)
async def test_a_live_subscriber_that_an_event_never_reached_is_told_before_the_next(
    tmp_path, postgres, private_redis
):
    with running_pair(tmp_path, postgres, private_redis) as (a, b):
        token = await sign_up(a, "gapped")
        tab = await b.graphql_socket(token)
        await tab.subscribe("lib", LIBRARY, extensions={"since": "now"})
        assert (await tab.next_payload("lib"))["extensions"]["stream"]["offset"] == 0
        watcher = await b.counter_socket("gapped")

        private_redis.stop()  # A's next changes reach A's own sockets only
        await create(a, token, 1)
        await a.graphql_async('mutation { incrementCounter(name: "gapped") { value } }')
        private_redis.start()
        for process in (a, b):
            await asyncio.to_thread(wait_connected, process, 30)

        await create(a, token, 2)
        notice = await tab.next_payload("lib")
        assert "data" not in notice
        assert notice["extensions"]["stream"]["recovered"] is False
        assert notice["extensions"]["stream"]["offset"] == 2  # refetch, then go on from 2
        assert offsets(await received(tab, 2)) == [3, 4]

        await a.graphql_async('mutation { incrementCounter(name: "gapped") { value } }')
        reset = await watcher.receive()
        assert (reset["type"], reset["recovered"], reset["offset"]) == ("reset", False, 1)
        event = await watcher.receive()
        assert (event["type"], event["value"], event["offset"]) == ("increment", 2, 2)
        # Each hole counted once on B, for the operator.
        assert scraped(b, "live_stream_gaps_total") == 2


def scraped(process: Process, name: str) -> float:
    with urllib.request.urlopen(process.url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} is not in /metrics")


@pytest.mark.gen_test(timeout=60)
async def test_a_history_begun_afresh_in_redis_starts_where_the_database_is(pair, redis_server):
    a, b = pair
    token = await sign_up(a, "renewed")
    await create(a, token, 1)
    for _ in range(2):
        await a.graphql_async('mutation { incrementCounter(name: "renewed") { value } }')
    flush(redis_server)  # Redis restarted empty, say

    socket = await b.graphql_socket(token)
    await socket.subscribe("lib", LIBRARY, extensions={"since": "now"})
    assert (await socket.next_payload("lib"))["extensions"]["stream"]["offset"] == 2
    await create(a, token, 2)
    live = await received(socket, 2)  # no notice of a hole first: there is none
    assert offsets(live) == [3, 4]

    counter = await b.counter_socket("renewed")
    start = counter.snapshot  # type: ignore[attr-defined]
    assert start["offset"] == 2
    await counter.send({"type": "resume", "offset": 2, "epoch": start["epoch"]})
    await a.graphql_async('mutation { incrementCounter(name: "renewed") { value } }')
    event = await counter.receive()
    assert (event["type"], event["offset"], event["epoch"]) == ("increment", 3, start["epoch"])


STORM = 'subscription { counter(name: "storm") { value } }'


async def _graphql_offsets(socket: GraphQLSocket, last: int) -> tuple[list[int], int]:
    """Every event's offset, in arrival order, up to `last`; and how many
    data-less notices (a hole, refetch) came."""
    seen: list[int] = []
    notices = 0
    while not seen or seen[-1] < last:
        payload = await socket.next_payload("storm", timeout=30)
        if "data" not in payload:
            notices += 1
            continue
        seen.append(payload["extensions"]["stream"]["offset"])
    return seen, notices


async def _counter_offsets(socket, last: int, results: int = 0) -> tuple[list[int], int]:
    """The offsets of every increment a counter socket heard, up to `last`,
    and its reset frames; also waits for `results` incrementResult frames."""
    seen: list[int] = []
    resets = 0
    answered = 0
    while not seen or seen[-1] < last or answered < results:
        frame = await socket.receive(timeout=30)
        if frame["type"] == "increment":
            seen.append(frame["offset"])
        elif frame["type"] == "reset":
            resets += 1
        elif frame["type"] == "incrementResult":
            answered += 1
    return seen, resets


@pytest.mark.gen_test(timeout=120)
async def test_2000_changes_through_both_processes_reach_every_subscriber_once_in_order(pair):
    a, b = pair
    total, writers_per_process = 2000, 2
    per_writer = total // (2 * writers_per_process)
    subscriptions, watchers = [], []
    for process in (a, b):
        socket = await process.graphql_socket()
        await socket.subscribe("storm", STORM, extensions={"since": "now"})
        assert (await socket.next_payload("storm"))["extensions"]["stream"]["offset"] == 0
        subscriptions.append(socket)
        watchers.append(await process.counter_socket("storm"))
    writers = [await p.counter_socket("storm") for p in (a, b) for _ in range(writers_per_process)]

    heard = [asyncio.ensure_future(_graphql_offsets(s, total)) for s in subscriptions]
    heard += [asyncio.ensure_future(_counter_offsets(w, total)) for w in watchers]
    heard += [asyncio.ensure_future(_counter_offsets(w, total, per_writer)) for w in writers]
    increment = orjson.dumps({"type": "increment"}).decode()
    for _ in range(per_writer):  # alternately through both processes, all at once
        for writer in writers:
            await writer.connection.write_message(increment)
    outcomes = await asyncio.gather(*heard)

    # No hole notice and no reset anywhere: nothing was lost on the way.
    assert [notices for _, notices in outcomes] == [0] * len(outcomes)
    for offsets_heard, _ in outcomes:  # each event once, in offset order
        assert offsets_heard == list(range(1, total + 1))
