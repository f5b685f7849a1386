"""Recovery of missed events in one process (history in the database):
a client that comes back with its last position gets exactly what it
missed, in order, then live events; one whose gap can't be filled is told
once to refetch."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from app.clock import utcnow
from app.events import StoryDeleted, counter_topic, library_topic
from app.models import stream
from app.models.user import User
from app.realtime.history import Batch, Position, missed
from tests.clients import Clients, GraphQLSocket, open_graphql_socket, sign_up

LIBRARY = 'subscription { channel(name: "library") { ... on StoryCreateEvent { type story { title } } ... on LibraryChangeEvent { type totalStories } } }'
CREATE = "mutation($u: String!, $t: String!) { createStory(url: $u, title: $t) { id } }"
HISTORY_SIZE = 100
COUNTER = "subscription($n: String!) { counter(name: $n) { type value } }"


async def library_socket(clients: Clients, token: str) -> GraphQLSocket:
    socket = await open_graphql_socket(clients)
    await socket.init({"token": token})
    return socket


async def create_stories(clients: Clients, token: str, first: int, count: int) -> None:
    for number in range(first, first + count):
        await clients.data(CREATE, {"u": f"https://example.com/{number}", "t": f"S{number}"}, token)


def position(payload: dict[str, Any]) -> dict[str, Any]:
    stream_position = payload["extensions"]["stream"]
    return {"offset": stream_position["offset"], "epoch": stream_position["epoch"]}


async def received(socket: GraphQLSocket, op_id: str, count: int) -> list[dict[str, Any]]:
    return [await socket.next_payload(op_id) for _ in range(count)]


def described(payloads: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(offset, what) per event: the story's title, or the new total."""
    out = []
    for payload in payloads:
        event = payload["data"]["channel"]
        what = event["story"]["title"] if "story" in event else f"total {event['totalStories']}"
        out.append((payload["extensions"]["stream"]["offset"], what))
    return out


def expected(first_story: int, stories: int, first_offset: int) -> list[tuple[int, str]]:
    """What creating `stories` stories from number `first_story` publishes:
    story:create then library:change for each, at consecutive offsets."""
    out = []
    offset = first_offset
    for number in range(first_story, first_story + stories):
        out += [(offset, f"S{number}"), (offset + 1, f"total {number}")]
        offset += 2
    return out


@pytest.mark.gen_test(timeout=60)
async def test_a_subscriber_that_missed_50_library_events_gets_exactly_those_then_live_ones(
    clients,
):
    token = await sign_up(clients, "returner")
    socket = await library_socket(clients, token)
    await socket.subscribe("lib", LIBRARY, extensions={"since": "now"})
    notice = await socket.next_payload("lib")
    assert "data" not in notice
    start = notice["extensions"]["stream"]
    assert start["offset"] == 0
    assert isinstance(start["epoch"], str)
    assert start["epoch"]

    await create_stories(clients, token, 1, 2)
    seen = await received(socket, "lib", 4)
    assert described(seen) == expected(1, 2, 1)
    last = position(seen[-1])
    socket.close()  # the laptop lid closes

    await create_stories(clients, token, 3, 25)  # 50 events missed

    back = await library_socket(clients, token)
    await back.subscribe("lib", LIBRARY, extensions={"since": last})
    # Changes keep coming while the missed ones are replayed.
    during = asyncio.ensure_future(create_stories(clients, token, 28, 5))
    replay_and_live = await received(back, "lib", 50 + 10)
    await during
    assert described(replay_and_live) == expected(3, 30, 5)  # no gap, no duplicate
    await create_stories(clients, token, 33, 1)
    assert described(await received(back, "lib", 2)) == expected(33, 1, 65)
    await back.nothing_more()


@pytest.mark.gen_test(timeout=30)
async def test_the_now_notice_carries_no_data_only_the_position(clients):
    token = await sign_up(clients, "noticer")
    socket = await library_socket(clients, token)
    await create_stories(clients, token, 1, 1)
    await socket.subscribe("lib", LIBRARY, extensions={"since": "now"})
    notice = await socket.next_payload("lib")
    assert set(notice) == {"extensions"}
    assert notice["extensions"]["stream"]["offset"] == 2


@pytest.mark.gen_test(timeout=30)
async def test_a_position_from_another_epoch_is_told_to_refetch_once_then_gets_live_events(
    clients,
):
    token = await sign_up(clients, "stale")
    await create_stories(clients, token, 1, 1)
    socket = await library_socket(clients, token)
    await socket.subscribe("lib", LIBRARY, extensions={"since": {"offset": 1, "epoch": "gone"}})
    notice = await socket.next_payload("lib")
    assert "data" not in notice
    assert notice["extensions"]["stream"]["recovered"] is False
    assert notice["extensions"]["stream"]["offset"] == 2  # where to refetch from
    await create_stories(clients, token, 2, 1)
    assert described(await received(socket, "lib", 2)) == expected(2, 1, 3)
    await socket.nothing_more()


@pytest.mark.gen_test(timeout=60)
async def test_a_position_older_than_the_history_is_told_to_refetch(clients, app):
    token = await sign_up(clients, "away-long")
    socket = await library_socket(clients, token)
    await socket.subscribe("lib", LIBRARY, extensions={"since": "now"})
    epoch = (await socket.next_payload("lib"))["extensions"]["stream"]["epoch"]
    socket.close()
    # More than the history keeps (HISTORY_SIZE=100 in this module's app).
    await create_stories(clients, token, 1, 90)
    back = await library_socket(clients, token)
    await back.subscribe("lib", LIBRARY, extensions={"since": {"offset": 0, "epoch": epoch}})
    notice = await back.next_payload("lib")
    assert notice["extensions"]["stream"] == {"offset": 180, "epoch": epoch, "recovered": False}
    await back.nothing_more()
    # A recent position is still served from what is kept.
    again = await library_socket(clients, token)
    await again.subscribe("lib", LIBRARY, extensions={"since": {"offset": 176, "epoch": epoch}})
    assert described(await received(again, "lib", 4)) == expected(89, 2, 177)


@pytest.fixture
def settings(settings):
    """A small history, so that outgrowing it is quick."""
    return settings.with_overrides(history_size=HISTORY_SIZE)


@pytest.mark.gen_test(timeout=30)
async def test_a_position_from_the_future_is_told_to_refetch(clients):
    token = await sign_up(clients, "time-traveller")
    socket = await library_socket(clients, token)
    await socket.subscribe("lib", LIBRARY, extensions={"since": "now"})
    epoch = (await socket.next_payload("lib"))["extensions"]["stream"]["epoch"]
    await socket.subscribe("far", LIBRARY, extensions={"since": {"offset": 99, "epoch": epoch}})
    notice = await socket.next_payload("far")
    assert notice["extensions"]["stream"]["recovered"] is False


@pytest.mark.parametrize(
    "since",
    [{"offset": -1, "epoch": "e"}, {"offset": "3", "epoch": "e"}, {"offset": 3}, "later", 5],
)
@pytest.mark.gen_test(timeout=30)
async def test_a_malformed_position_is_refused_with_bad_user_input(clients, since):
    socket = await open_graphql_socket(clients)
    await socket.init()
    await socket.subscribe("c", COUNTER, {"n": "x"}, extensions={"since": since})
    message = await socket.receive()
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "extensions.since" in message["payload"][0]["message"]


@pytest.mark.gen_test(timeout=30)
async def test_counter_subscriptions_resume_too(clients):
    socket = await open_graphql_socket(clients)
    await socket.init()
    await socket.subscribe("c", COUNTER, {"n": "resumed"}, extensions={"since": "now"})
    start = (await socket.next_payload("c"))["extensions"]["stream"]
    socket.close()
    for _ in range(3):
        await clients.data('mutation { incrementCounter(name: "resumed") { value } }')
    back = await open_graphql_socket(clients)
    await back.init()
    await back.subscribe("c", COUNTER, {"n": "resumed"}, extensions={"since": start})
    payloads = await received(back, "c", 3)
    assert [p["data"]["counter"]["value"] for p in payloads] == [1, 2, 3]
    assert [p["extensions"]["stream"]["offset"] for p in payloads] == [1, 2, 3]


# ------------------------------------------------------------ counter socket


@pytest.mark.gen_test(timeout=30)
async def test_the_counter_socket_snapshot_and_events_carry_their_positions(clients):
    socket = await clients.counter_socket("placed", snapshot=False)
    snapshot = await socket.receive()
    assert snapshot["type"] == "snapshot"
    assert snapshot["offset"] == 0
    assert snapshot["epoch"]
    await socket.send({"type": "increment"})
    event = await socket.receive_type("increment")
    assert (event["offset"], event["epoch"]) == (1, snapshot["epoch"])


@pytest.mark.gen_test(timeout=30)
async def test_a_counter_socket_resume_sends_the_missed_events_then_live_ones(clients):
    first = await clients.counter_socket("lid", snapshot=False)
    snapshot = await first.receive()
    await first.send({"type": "increment"})
    seen = await first.receive_type("increment")
    first.close()
    for amount in (2, 3, 4):
        await clients.data(
            f'mutation {{ incrementCounter(name: "lid", amount: {amount}) {{ value }} }}'
        )

    back = await clients.counter_socket("lid", snapshot=False)
    fresh = await back.receive()
    assert (fresh["value"], fresh["offset"]) == (10, 4)
    await back.send({"type": "resume", "offset": seen["offset"], "epoch": seen["epoch"]})
    missed = [await back.receive() for _ in range(3)]
    assert [(m["type"], m["value"], m["offset"]) for m in missed] == [
        ("increment", 3, 2),
        ("increment", 6, 3),
        ("increment", 10, 4),
    ]
    assert {m["epoch"] for m in missed} == {snapshot["epoch"]}
    await clients.data('mutation { decrementCounter(name: "lid") { value } }')
    live = await back.receive()
    assert (live["type"], live["value"], live["offset"]) == ("decrement", 9, 5)
    await back.nothing_more()


@pytest.mark.gen_test(timeout=30)
async def test_a_counter_socket_resume_that_cannot_be_served_says_reset_once(clients):
    socket = await clients.counter_socket("forgotten", snapshot=False)
    await socket.receive()
    await socket.send({"type": "resume", "offset": 0, "epoch": "not-this-one"})
    reset = await socket.receive()
    assert reset["type"] == "reset"
    assert reset["recovered"] is False
    assert "value" not in reset  # not a counter reset event
    await socket.nothing_more()
    await socket.send({"type": "increment"})
    assert (await socket.receive_type("increment"))["offset"] == 1


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "resume", "epoch": "e"},
        {"type": "resume", "offset": -2, "epoch": "e"},
        {"type": "resume", "offset": 1, "epoch": 7},
    ],
)
@pytest.mark.gen_test(timeout=30)
async def test_a_malformed_resume_gets_an_error_frame(clients, frame):
    socket = await clients.counter_socket("strict")
    await socket.send(frame)
    error = await socket.receive()
    assert error["type"] == "error"
    assert "resume" in error["message"].lower()


# ----------------------------------------------------------- database store


@pytest.mark.gen_test(timeout=60)
async def test_the_database_history_is_bounded_and_purged_by_age(clients, app):
    history = app.settings["services"].history
    token = await sign_up(clients, "prolific")
    await create_stories(clients, token, 1, 100)  # 200 events
    topic = library_topic(User.by_username("prolific").id)
    batch = await history.read(topic, 0)
    top, events = batch.top, batch.events
    assert top == 200
    offsets = [event.offset for event in events]
    # The newest HISTORY_SIZE at least, trimmed every TRIM_EVERY events.
    assert offsets == list(range(offsets[0], 201))
    assert HISTORY_SIZE <= len(offsets) < HISTORY_SIZE + stream.TRIM_EVERY
    assert stream.purge(utcnow() + timedelta(seconds=1)) == len(offsets)
    assert (await history.read(topic, 0)).events == []


@pytest.mark.gen_test(timeout=60)
async def test_a_counters_history_is_its_operation_log_bounded_alike(clients, app):
    for _ in range(150):
        await clients.data('mutation { incrementCounter(name: "logged") { value } }')
    batch = await app.settings["services"].history.read(counter_topic("logged"), 0)
    top, events = batch.top, batch.events
    assert top == 150
    assert [event.offset for event in events] == list(range(51, 151))
    assert [event.value for event in events] == list(range(51, 151))


@pytest.mark.gen_test(timeout=30)
async def test_a_counter_socket_resumes_once(clients):
    socket = await clients.counter_socket("once", snapshot=False)
    snapshot = await socket.receive()
    position = {"offset": snapshot["offset"], "epoch": snapshot["epoch"]}
    await socket.send({"type": "resume", **position})
    await socket.send({"type": "resume", **position})
    error = await socket.receive()
    assert error["type"] == "error"
    assert "already resumed" in error["message"]


def test_a_position_in_a_history_begun_a_moment_later_still_resumes():
    # A reader told `from-3` (no history yet; the database at 3) while event
    # 3 was on its way to Redis, where it began the history as `from-2`.
    later = [
        StoryDeleted(owner_id=1, story_id=offset, offset=offset, epoch="from-2")
        for offset in (3, 4, 5)
    ]
    # (A history is read from after the client's offset.)
    assert missed(Batch("from-2", 5, later[1:]), Position(3, "from-3"), 5) == later[1:]
    # A history begun later replaced a lost one: refused.
    assert missed(Batch("from-3", 5, later[1:]), Position(3, "from-2"), 5) is None
    # Whether the events are all there is still checked.
    assert missed(Batch("from-1", 5, later[1:]), Position(2, "from-2"), 5) is None
    # Other epochs are other numberings.
    assert missed(Batch("9f3c", 5, later), Position(3, "from-3"), 5) is None
