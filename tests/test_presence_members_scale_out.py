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
