"""The members bound across two processes: each process lists few enough,
together they are too many, so both fall back to the count alone; one
leaving brings the list back everywhere."""

from __future__ import annotations

import pytest

from tests.test_recovery_scale_out import sign_up

BOUND = 2


@pytest.fixture
def cluster_env() -> dict[str, str]:
    return {"PRESENCE_TTL": "3", "PRESENCE_MEMBERS": str(BOUND)}


@pytest.mark.gen_test(timeout=60)
async def test_members_too_many_across_processes_are_cut_on_both(pair):
    a, b = pair
    tokens = [await sign_up(a, f"crowd{n}") for n in range(BOUND + 1)]
    observers = [await a.counter_socket("stage"), await b.counter_socket("stage")]
    first = [await a.counter_socket("stage", token) for token in tokens[:BOUND]]
    for observer in observers:
        await observer.members(["crowd0", "crowd1"], 4, timeout=10)
    last = await b.counter_socket("stage", tokens[BOUND])  # within B's bound alone
    for observer in observers:
        frames = await observer.members(None, 5, timeout=10)
        assert frames[-1]["truncated"] is True
    query = '{ counter(name: "stage") { watching { count members { username } truncated } } }'
    for process in pair:
        reply = await process.graphql_async(query)
        assert reply["data"]["counter"]["watching"] == {
            "count": 5,
            "members": None,
            "truncated": True,
        }
    first[0].close()
    for observer in observers:
        await observer.members(["crowd1", "crowd2"], 4, timeout=10)
    for socket in [*first, last, *observers]:
        socket.close()
