"""The "notifications" channel: following counters, and hearing of other
people's changes to them, privately, in order, resumable."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from app.clock import utcnow
from app.events import notifications_topic
from app.models import stream
from app.models.follow import MAX_FOLLOWERS, MAX_FOLLOWING, CounterFollow
from app.models.user import User
from tests.clients import Clients, GraphQLSocket, open_graphql_socket, sign_up
from tests.test_library import Library
from tests.waiting import until

NOTIFICATIONS = """
subscription Notifications {
  channel(name: "notifications") {
    ... on FollowedCounterChangeEvent {
      type counterName operation value previousValue actor { username } timestamp
    }
  }
}
"""
FOLLOW = "mutation($n: String!) { followCounter(name: $n) { name value } }"
UNFOLLOW = "mutation($n: String!) { unfollowCounter(name: $n) { name } }"
FOLLOWING = """
query($first: Int, $after: String) {
  following(first: $first, after: $after) {
    totalCount edges { node { name value } } pageInfo { hasNextPage endCursor }
  }
}
"""
#: Events kept per stream in this module's app, so that trimming shows.
HISTORY_SIZE = 100
INCREMENT = "mutation($n: String!, $a: Int) { incrementCounter(name: $n, amount: $a) { value } }"


@pytest.fixture
def settings(settings):
    return settings.with_overrides(history_size=HISTORY_SIZE)


async def notifications_socket(
    clients: Clients, registry: Any, token: str, username: str, **extra: Any
) -> GraphQLSocket:
    """A signed-in socket subscribed (op "n") to the user's notifications."""
    socket = await open_graphql_socket(clients)
    await socket.init({"token": token})
    await socket.subscribe("n", NOTIFICATIONS, **extra)
    topic = notifications_topic(User.by_username(username).id)
    await until(lambda: registry.subscribers(topic), f"{username}'s notifications subscription")
    return socket


async def heard(socket: GraphQLSocket, count: int) -> list[dict[str, Any]]:
    return [await socket.next_payload("n") for _ in range(count)]


def change(payload: dict[str, Any]) -> tuple[str, str, int, str | None]:
    event = payload["data"]["channel"]
    actor = event["actor"]["username"] if event["actor"] else None
    return event["counterName"], event["operation"], event["value"], actor


async def following(user: Library) -> list[str]:
    data = await user.data(FOLLOWING, {"first": 100})
    return [edge["node"]["name"] for edge in data["following"]["edges"]]


# ----------------------------------------------------------------- follows


@pytest.mark.gen_test(timeout=30)
async def test_following_lists_the_viewers_follows_newest_first_and_nobody_elses(clients):
    ada = Library(clients, await sign_up(clients, "ada"))
    bob = Library(clients, await sign_up(clients, "bob"))
    await clients.data(INCREMENT, {"n": "stored", "a": 5})
    assert (await ada.data(FOLLOW, {"n": "stored"}))["followCounter"] == {
        "name": "stored",
        "value": 5,
    }
    await ada.data(FOLLOW, {"n": "never-changed"})
    await ada.data(FOLLOW, {"n": "stored"})  # again: changes nothing
    data = await ada.data(FOLLOWING, {"first": 100})
    assert data["following"]["totalCount"] == 2
    assert [edge["node"] for edge in data["following"]["edges"]] == [
        {"name": "never-changed", "value": 0},
        {"name": "stored", "value": 5},
    ]
    assert await following(bob) == []

    page = (await ada.data(FOLLOWING, {"first": 1}))["following"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await ada.data(FOLLOWING, {"first": 1, "after": page["pageInfo"]["endCursor"]})
    assert [edge["node"]["name"] for edge in rest["following"]["edges"]] == ["stored"]

    await ada.data(UNFOLLOW, {"n": "stored"})
    await ada.data(UNFOLLOW, {"n": "stored"})  # again: changes nothing
    assert await following(ada) == ["never-changed"]


FOLLOWED = """
query { shown: counter(name: "shown") { followedByViewer } other: counter(name: "other") {
  followedByViewer } }
"""


async def followed(user: Library | Clients) -> tuple[bool | None, bool | None]:
    data = await user.data(FOLLOWED)
    return data["shown"]["followedByViewer"], data["other"]["followedByViewer"]


@pytest.mark.gen_test(timeout=30)
async def test_followed_by_viewer_says_whether_the_viewer_follows_and_is_null_signed_out(
    clients,
):
    ada = Library(clients, await sign_up(clients, "ada"))
    bob = Library(clients, await sign_up(clients, "bob"))
    assert await followed(ada) == (False, False)
    # The mutations' answers say the state they left: what a page shows.
    answer = await ada.data(
        'mutation { followCounter(name: "shown", clientMutationId: "k1") { followedByViewer } }'
    )
    assert answer["followCounter"] == {"followedByViewer": True}
    assert await followed(ada) == (True, False)
    assert await followed(bob) == (False, False)  # ada's follow is hers alone
    assert await followed(clients) == (None, None)
    assert CounterFollow.follows(User.by_username("ada"), "shown") is True
    assert CounterFollow.follows(User.by_username("bob"), "shown") is False

    answer = await ada.data('mutation { unfollowCounter(name: "shown") { followedByViewer } }')
    assert answer["unfollowCounter"] == {"followedByViewer": False}
    assert await followed(ada) == (False, False)
    assert CounterFollow.follows(User.by_username("ada"), "shown") is False


@pytest.mark.gen_test(timeout=30)
async def test_followed_by_viewer_is_null_in_subscription_events(clients):
    token = await sign_up(clients, "subscribed_ada")
    await clients.data('mutation { followCounter(name: "fanned") { name } }', token=token)
    socket = await open_graphql_socket(clients)
    await socket.init({"token": token})
    await socket.subscribe(
        "1", 'subscription { counter(name: "fanned") { value metadata { followedByViewer } } }'
    )
    await clients.data('mutation { incrementCounter(name: "fanned") { value } }')
    payload = await socket.next_payload("1")
    assert payload["data"] == {"counter": {"value": 1, "metadata": {"followedByViewer": None}}}


@pytest.mark.gen_test(timeout=30)
async def test_following_needs_a_signed_in_user(clients):
    for query, variables in ((FOLLOW, {"n": "x"}), (UNFOLLOW, {"n": "x"}), (FOLLOWING, None)):
        reply = await clients.graphql(query, variables)
        assert reply.body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", reply.body
        assert "sign in" in reply.body["errors"][0]["message"]


@pytest.mark.gen_test(timeout=60)
async def test_bad_follows_are_refused_in_words_and_change_nothing(clients):
    ada = Library(clients, await sign_up(clients, "ada"))
    error = await ada.error(FOLLOW, {"n": "no spaces"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "counter name" in error["message"]
    error = await ada.error(FOLLOWING, {"first": 1, "after": "bm90IG91cnM="})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    for number in range(MAX_FOLLOWING):
        await ada.data(FOLLOW, {"n": f"c{number}"})
    error = await ada.error(FOLLOW, {"n": "one-too-many"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"You follow {MAX_FOLLOWING} counters" in error["message"]
    data = await ada.data(FOLLOWING, {"first": 1})
    assert data["following"]["totalCount"] == MAX_FOLLOWING
    assert data["following"]["edges"][0]["node"]["name"] == f"c{MAX_FOLLOWING - 1}"


@pytest.mark.gen_test(timeout=30)
async def test_a_counter_with_the_most_followers_refuses_one_more(clients):
    # The followers already there are written straight to the database:
    # signing up 100 users over HTTP would only meet the sign-up throttle.
    crowd = [
        User.create(
            username=f"fan{n}", username_key=f"fan{n}", password_hash="-", created_at=utcnow()
        )
        for n in range(MAX_FOLLOWERS)
    ]
    CounterFollow.insert_many(
        [{"user": fan.id, "counter_name": "idol", "created_at": utcnow()} for fan in crowd]
    ).execute()
    late = Library(clients, await sign_up(clients, "latecomer"))
    error = await late.error(FOLLOW, {"n": "idol"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"has {MAX_FOLLOWERS} followers, the most a counter may have" in error["message"]
    assert await following(late) == []


# ----------------------------------------------------------- notifications


@pytest.mark.gen_test(timeout=30)
async def test_each_follower_hears_others_changes_but_never_their_own(clients, registry):
    tokens = {name: await sign_up(clients, name) for name in ("ada", "bob", "cyd")}
    users = {name: Library(clients, token) for name, token in tokens.items()}
    for name in ("ada", "bob"):
        await users[name].data(FOLLOW, {"n": "shared"})
    sockets = {
        name: await notifications_socket(clients, registry, tokens[name], name) for name in tokens
    }

    await clients.data(INCREMENT, {"n": "shared", "a": 2})  # an anonymous visitor
    await users["ada"].data(INCREMENT, {"n": "shared", "a": 3})
    await users["cyd"].data('mutation { resetCounter(name: "shared") { value } }')
    await clients.data(INCREMENT, {"n": "not-followed"})

    ada = await heard(sockets["ada"], 2)
    bob = await heard(sockets["bob"], 3)
    assert [change(p) for p in ada] == [
        ("shared", "increment", 2, None),
        ("shared", "reset", 0, "cyd"),
    ]
    assert [change(p) for p in bob] == [
        ("shared", "increment", 2, None),
        ("shared", "increment", 5, "ada"),
        ("shared", "reset", 0, "cyd"),
    ]
    assert bob[1]["data"]["channel"]["type"] == "counter:change"
    assert bob[1]["data"]["channel"]["previousValue"] == 2
    assert bob[1]["data"]["channel"]["timestamp"].endswith("Z")
    # Each follower's notifications are a stream of their own.
    assert [p["extensions"]["stream"]["offset"] for p in ada] == [1, 2]
    assert [p["extensions"]["stream"]["offset"] for p in bob] == [1, 2, 3]
    for socket in sockets.values():
        await socket.nothing_more(0.3)  # cyd follows nothing; nobody hears twice


@pytest.mark.gen_test(timeout=30)
async def test_after_unfollowing_no_more_notifications_come(clients, registry):
    token = await sign_up(clients, "ada")
    ada = Library(clients, token)
    await ada.data(FOLLOW, {"n": "fickle"})
    socket = await notifications_socket(clients, registry, token, "ada")
    await clients.data(INCREMENT, {"n": "fickle"})
    assert [change(p) for p in await heard(socket, 1)] == [("fickle", "increment", 1, None)]
    await ada.data(UNFOLLOW, {"n": "fickle"})
    await clients.data(INCREMENT, {"n": "fickle"})
    await socket.nothing_more(0.3)


@pytest.mark.gen_test(timeout=30)
async def test_a_refused_change_notifies_nobody(clients, registry):
    token = await sign_up(clients, "ada")
    await Library(clients, token).data(FOLLOW, {"n": "edge"})
    socket = await notifications_socket(clients, registry, token, "ada")
    await clients.data('mutation { setCounterValue(name: "edge", value: 2147483647) { value } }')
    reply = await clients.graphql(INCREMENT, {"n": "edge", "a": 1})
    assert reply.body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert [change(p) for p in await heard(socket, 1)] == [("edge", "setValue", 2147483647, None)]
    await socket.nothing_more(0.3)


@pytest.mark.gen_test(timeout=30)
async def test_library_and_notifications_are_separate_streams_on_one_socket(clients, registry):
    token = await sign_up(clients, "ada")
    ada = Library(clients, token)
    await ada.data(FOLLOW, {"n": "both"})
    socket = await notifications_socket(clients, registry, token, "ada")
    await socket.subscribe(
        "lib", 'subscription { channel(name: "library") { ... on LibraryChangeEvent { type } } }'
    )
    await until(
        lambda: registry.subscribers(("user", str(User.by_username("ada").id), "library")),
        "the library subscription",
    )
    await ada.story("https://example.com/1", "One")
    await clients.data(INCREMENT, {"n": "both"})
    frames = [await socket.receive() for _ in range(3)]  # story:create, library:change, one
    library = [frame["payload"] for frame in frames if frame["id"] == "lib"]
    (notification,) = [frame["payload"] for frame in frames if frame["id"] == "n"]
    assert [p["data"]["channel"] for p in library] == [{}, {"type": "library:change"}]
    assert change(notification) == ("both", "increment", 1, None)
    # Each channel numbers its own events.
    assert [p["extensions"]["stream"]["offset"] for p in library] == [1, 2]
    assert notification["extensions"]["stream"]["offset"] == 1
    await socket.nothing_more(0.2)


# ---------------------------------------------------------------- isolation


@pytest.mark.gen_test(timeout=30)
async def test_a_signed_out_socket_asking_for_notifications_is_unauthenticated(clients):
    socket = await open_graphql_socket(clients)
    await socket.init()
    await socket.subscribe("n", NOTIFICATIONS)
    error = await socket.receive()
    assert error["type"] == "error", error
    assert error["id"] == "n"
    assert error["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Traceback" not in str(error)


@pytest.mark.gen_test(timeout=30)
async def test_nobody_hears_or_reads_anothers_notifications(clients, registry):
    ada_token = await sign_up(clients, "ada")
    bob_token = await sign_up(clients, "bob")
    await Library(clients, ada_token).data(FOLLOW, {"n": "adas"})
    # Bob listens with every handle he has: his own channel, on several
    # sockets, and asks for Ada's stream from its start.
    bob_sockets = [
        await notifications_socket(clients, registry, bob_token, "bob") for _ in range(2)
    ]
    ada_socket = await notifications_socket(clients, registry, ada_token, "ada")
    await clients.data(INCREMENT, {"n": "adas"})
    first = (await heard(ada_socket, 1))[0]
    spy = await open_graphql_socket(clients)
    await spy.init({"token": bob_token})
    await spy.subscribe(
        "n",
        NOTIFICATIONS,
        extensions={"since": {"offset": 0, "epoch": first["extensions"]["stream"]["epoch"]}},
    )
    assert await spy.nothing_more(0.3) is None  # his own stream: nothing in it
    for socket in bob_sockets:
        await socket.nothing_more(0.1)
    assert await following(Library(clients, bob_token)) == []
    # There is no argument naming a user, so there is nothing to point at Ada.
    reply = await clients.graphql(
        'query { following(user: "ada") { totalCount } }',
        headers={"Authorization": f"Bearer {bob_token}"},
    )
    assert reply.body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


# ------------------------------------------------------------------- resume


@pytest.mark.gen_test(timeout=60)
async def test_a_follower_who_missed_notifications_gets_exactly_those_then_live_ones(
    clients, registry
):
    token = await sign_up(clients, "ada")
    await Library(clients, token).data(FOLLOW, {"n": "gappy"})
    socket = await notifications_socket(
        clients, registry, token, "ada", extensions={"since": "now"}
    )
    notice = await socket.next_payload("n")
    assert set(notice) == {"extensions"}
    assert notice["extensions"]["stream"]["offset"] == 0
    for _ in range(3):
        await clients.data(INCREMENT, {"n": "gappy"})
    seen = await heard(socket, 3)
    last = seen[-1]["extensions"]["stream"]
    socket.close()  # the laptop lid closes

    for _ in range(40):  # missed
        await clients.data(INCREMENT, {"n": "gappy"})

    back = await open_graphql_socket(clients)
    await back.init({"token": token})
    await back.subscribe(
        "n", NOTIFICATIONS, extensions={"since": {"offset": 3, "epoch": last["epoch"]}}
    )
    during = asyncio.gather(*(clients.data(INCREMENT, {"n": "gappy"}) for _ in range(5)))
    caught_up = await heard(back, 45)
    await during
    assert [p["extensions"]["stream"]["offset"] for p in caught_up] == list(range(4, 49))
    assert [change(p)[2] for p in caught_up] == list(range(4, 49))  # values, no gap or twice
    await back.nothing_more()


@pytest.mark.gen_test(timeout=30)
async def test_a_position_that_cannot_be_served_is_told_to_refetch_once_then_live_ones(
    clients, registry
):
    token = await sign_up(clients, "ada")
    await Library(clients, token).data(FOLLOW, {"n": "stale"})
    for _ in range(2):
        await clients.data(INCREMENT, {"n": "stale"})
    socket = await notifications_socket(
        clients, registry, token, "ada", extensions={"since": {"offset": 1, "epoch": "gone"}}
    )
    notice = await socket.next_payload("n")
    assert "data" not in notice
    assert notice["extensions"]["stream"]["recovered"] is False
    assert notice["extensions"]["stream"]["offset"] == 2  # where to refetch from
    await clients.data(INCREMENT, {"n": "stale"})
    (live,) = await heard(socket, 1)
    assert live["extensions"]["stream"]["offset"] == 3
    assert change(live) == ("stale", "increment", 3, None)
    await socket.nothing_more()


@pytest.mark.gen_test(timeout=60)
async def test_each_followers_history_is_bounded_and_purged_by_age(clients, app):
    token = await sign_up(clients, "ada")
    await Library(clients, token).data(FOLLOW, {"n": "chatty"})
    writer = await clients.counter_socket("chatty")
    for _ in range(200):
        await writer.send({"type": "increment"})
    for _ in range(200):
        await writer.receive_type("incrementResult")
    history = app.settings["services"].history
    topic = notifications_topic(User.by_username("ada").id)
    batch = await history.read(topic, 0)
    offsets = [event.offset for event in batch.events]
    assert batch.top == 200
    # The newest HISTORY_SIZE at least, trimmed every TRIM_EVERY events.
    assert offsets == list(range(offsets[0], 201))
    assert HISTORY_SIZE <= len(offsets) < HISTORY_SIZE + stream.TRIM_EVERY
    assert [event.value for event in batch.events] == offsets
    stream.purge(utcnow() + timedelta(seconds=1))
    assert (await history.read(topic, 0)).events == []
