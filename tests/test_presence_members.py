"""Presence with members in one process: who watches a counter, by name,
as sockets and subscriptions come and go; anonymous watchers counted, not
named; past the bound only the count (several processes:
test_presence_members_scale_out.py)."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.clients import Clients, sign_up
from tests.test_presence import graphql_socket, next_for, settled

BOUND = 2
PRESENCE = (
    "subscription($n: String!) { counterPresence(name: $n) {"
    " watchers members { username } truncated joined { username } left { username } } }"
)
WATCHING = (
    "query($n: String!) { counter(name: $n) {"
    " watchers watching { count members { username } truncated } } }"
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(presence_members=BOUND)


def names(frames: list[dict], field: str) -> list[str]:
    """Every name a field of the presence frames carried, in order."""
    return [name for frame in frames for name in frame.get(field, [])]


def users(*usernames: str) -> list[dict[str, str]]:
    return [{"username": name} for name in usernames]


async def watching(clients: Clients, name: str) -> dict:
    return (await clients.data(WATCHING, {"n": name}))["counter"]


@pytest.mark.gen_test(timeout=30)
async def test_counter_socket_names_signed_in_watchers_and_counts_anonymous_ones(clients, app):
    alice, bob = await sign_up(clients, "alice"), await sign_up(clients, "bob")
    observer = await clients.counter_socket("room")
    await observer.members([], 1)
    assert "members" not in observer.presence_frames[0]  # an anonymous room: the old frame

    as_alice = await clients.counter_socket("room", token=alice)
    frames = await observer.members(["alice"], 2)
    assert frames[-1]["joined"] == ["alice"]
    await as_alice.members(["alice"], 2)  # her own first frame names her too

    as_bob = await clients.counter_socket("room", token=bob)
    anonymous = await clients.counter_socket("room")
    await observer.members(["alice", "bob"], 4)
    second_alice = await clients.counter_socket("room", token=alice)  # another tab
    await observer.members(["alice", "bob"], 5)

    as_bob.close()
    await observer.members(["alice"], 4)
    second_alice.close()  # alice still watches from her first tab
    await observer.members(["alice"], 3)
    as_alice.close()
    frames = await observer.members([], 2)
    assert names(frames, "joined") == ["alice", "bob"]  # each join told once
    assert names(frames, "left") == ["bob", "alice"]  # each leave told once
    assert all(set(frame.get("members") or []) <= {"alice", "bob"} for frame in frames)
    assert "truncated" not in frames[-1]
    anonymous.close()
    observer.close()
    await settled(app)


@pytest.mark.gen_test(timeout=30)
async def test_counter_presence_over_graphql_names_joins_and_leaves(clients, app):
    carol = await sign_up(clients, "carol")
    listener = await graphql_socket(clients)
    await listener.subscribe("p", PRESENCE, {"n": "hall"})
    assert await next_for(listener, "p") == {
        "counterPresence": {
            "watchers": 0,
            "members": [],
            "truncated": False,
            "joined": [],
            "left": [],
        }
    }
    as_carol = await graphql_socket(clients, carol)
    await as_carol.subscribe("c", 'subscription { counter(name: "hall") { value } }')
    assert (await next_for(listener, "p"))["counterPresence"] == {
        "watchers": 1,
        "members": users("carol"),
        "truncated": False,
        "joined": users("carol"),
        "left": [],
    }
    anonymous = await clients.counter_socket("hall")
    assert (await next_for(listener, "p"))["counterPresence"] == {
        "watchers": 2,
        "members": users("carol"),
        "truncated": False,
        "joined": [],
        "left": [],
    }
    assert await watching(clients, "hall") == {
        "watchers": 2,
        "watching": {"count": 2, "members": users("carol"), "truncated": False},
    }
    await as_carol.send({"id": "c", "type": "complete"})
    assert (await next_for(listener, "p"))["counterPresence"] == {
        "watchers": 1,
        "members": [],
        "truncated": False,
        "joined": [],
        "left": users("carol"),
    }
    anonymous.close()
    as_carol.close()
    listener.close()
    await settled(app)
    assert await watching(clients, "hall") == {
        "watchers": 0,
        "watching": {"count": 0, "members": [], "truncated": False},
    }


@pytest.mark.gen_test(timeout=30)
async def test_past_the_bound_only_the_count_is_told(clients, app):
    tokens = [await sign_up(clients, f"fan{n}") for n in range(BOUND + 1)]
    observer = await clients.counter_socket("popular")
    fans = [await clients.counter_socket("popular", token=token) for token in tokens[:BOUND]]
    await observer.members(["fan0", "fan1"], 3)

    fans.append(await clients.counter_socket("popular", token=tokens[BOUND]))
    frames = await observer.members(None, 4)
    assert frames[-1]["truncated"] is True
    assert "joined" not in frames[-1]  # while cut, only the count speaks
    listener = await graphql_socket(clients)
    await listener.subscribe("p", PRESENCE, {"n": "popular"})
    assert (await next_for(listener, "p"))["counterPresence"] == {
        "watchers": 4,
        "members": None,
        "truncated": True,
        "joined": [],
        "left": [],
    }
    assert (await watching(clients, "popular"))["watching"] == {
        "count": 4,
        "members": None,
        "truncated": True,
    }

    fans.pop(0).close()  # back within the bound: the list again
    await observer.members(["fan1", "fan2"], 3)
    for socket in [*fans, observer]:
        socket.close()
    listener.close()
    await settled(app)
