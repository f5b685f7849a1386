"""Presence members across two server processes joined by one Redis (and
one PostgreSQL, so that a token works on both): over a long run of joins
and leaves on either process, both see the same members and hear every
join and leave exactly once; a killed process's members expire."""

from __future__ import annotations

import random
import signal
from collections import Counter

import pytest

from tests.clients import CounterSocket
from tests.cluster import Process
from tests.test_recovery_scale_out import sign_up

#: Short, so that expiry is quick to see; renewals every TTL/3 = 1 s.
TTL = "3"
USERS = [f"walker{n}" for n in range(5)]
STEPS = 60


@pytest.fixture
def cluster_env() -> dict[str, str]:
    return {"PRESENCE_TTL": TTL}


def present(open_sockets: list[tuple[str | None, Process, CounterSocket]]) -> list[str]:
    return sorted({user for user, _, _ in open_sockets if user is not None})


@pytest.mark.gen_test(timeout=180)
async def test_every_join_and_leave_is_told_once_on_both_processes(pair):
    a, b = pair
    tokens = {user: await sign_up(a, user) for user in USERS}
    observers = [await a.counter_socket("square"), await b.counter_socket("square")]
    for observer in observers:
        await observer.members([], 2)
    rng = random.Random(20261204)
    open_sockets: list[tuple[str | None, Process, CounterSocket]] = []
    joins: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for _ in range(STEPS):
        before = set(present(open_sockets))
        if open_sockets and (len(open_sockets) >= 8 or rng.random() < 0.45):
            user, _, socket = open_sockets.pop(rng.randrange(len(open_sockets)))
            socket.close()
        else:
            user = rng.choice([*USERS, None])  # None: an anonymous watcher
            process = rng.choice(pair)
            token = tokens[user] if user is not None else None
            open_sockets.append((user, process, await process.counter_socket("square", token)))
        after = set(present(open_sockets))
        joins.update(after - before)
        leaves.update(before - after)
        for observer in observers:
            await observer.members(present(open_sockets), len(open_sockets) + 2, timeout=10)

    for observer in observers:
        frames = observer.presence_frames
        assert Counter(n for f in frames for n in f.get("joined", [])) == joins
        assert Counter(n for f in frames for n in f.get("left", [])) == leaves
    assert sum(joins.values()) > 10  # a run worth the name
    assert sum(leaves.values()) > 5
    query = '{ counter(name: "square") { watching { count members { username } truncated } } }'
    expected = {
        "count": len(open_sockets) + 2,
        "members": [{"username": user} for user in present(open_sockets)],
        "truncated": False,
    }
    for process in pair:  # the same answer from either process, over HTTP
        reply = await process.graphql_async(query)
        assert reply["data"]["counter"]["watching"] == expected

    # B dies without cleaning up: its watchers and members go within the TTL.
    ghost = await b.counter_socket("square", tokens[USERS[0]])
    open_sockets.append((USERS[0], b, ghost))
    await observers[0].members(present(open_sockets), len(open_sockets) + 2, timeout=10)
    b.process.send_signal(signal.SIGKILL)
    b.process.wait(10)
    on_a = [entry for entry in open_sockets if entry[1] is a]
    await observers[0].members(present(on_a), len(on_a) + 1, timeout=20)
    for _, _, socket in open_sockets:
        socket.close()
    for observer in observers:
        observer.close()


@pytest.mark.gen_test(timeout=60)
async def test_a_users_devices_on_either_process_are_told_to_them_alone(pair):
    a, b = pair
    owner, stranger = await sign_up(a, "owner"), await sign_up(b, "stranger")
    query = "subscription { libraryPresence { tabs devices { id } joined { id } left { id } } }"
    mine, theirs = await a.graphql_socket(owner), await b.graphql_socket(stranger)
    for socket in (mine, theirs):
        await socket.subscribe("d", query)
    first = (await mine.next_payload("d"))["data"]["libraryPresence"]
    assert first["tabs"] == 1
    (own_device,) = first["devices"]
    await theirs.next_payload("d")

    on_b = await b.counter_socket("elsewhere", token=owner)
    joined = (await mine.next_payload("d", timeout=10))["data"]["libraryPresence"]
    assert joined["tabs"] == 2
    assert joined["devices"][0] == own_device
    assert joined["joined"] == joined["devices"][1:]
    on_b.close()
    left = (await mine.next_payload("d", timeout=10))["data"]["libraryPresence"]
    assert left == {"tabs": 1, "devices": [own_device], "joined": [], "left": joined["joined"]}
    await theirs.nothing_more(1.0)  # the owner's devices never reach the stranger
    mine.close()
    theirs.close()
