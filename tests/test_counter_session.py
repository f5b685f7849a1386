"""The counter socket's session driven directly, without a socket: the
real models on a real SQLite file, the app's real registry, presence and
history. Only the socket is replaced, by a `Frames` transport that
records what would be written. (The socket itself is tested end to end
in test_counter_socket.py and test_recovery.py.)"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import tornado.web

from app import events
from app.clock import utcnow
from app.events import CounterChanged, counter_presence_key, counter_topic, presence_topic
from app.models.counter import Counter
from app.protocols.counter_session import CounterSession
from app.services import Services
from tests.waiting import until


class Frames:
    """The transport: records each frame; `on_frame` may act when one is
    written (a change landing just then); `broken` makes writes fail as
    a closed or cut-off socket's do."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.on_frame: Callable[[dict[str, Any]], None] | None = None
        self.broken = False

    def send_text(self, message: bytes, shared: dict[object, object] | None) -> bool:
        if self.broken:
            return False
        frame = orjson.loads(message)
        self.frames.append(frame)
        if self.on_frame is not None:
            self.on_frame(frame)
        return True

    def types(self) -> list[str]:
        return [frame["type"] for frame in self.frames]

    def take(self) -> list[dict[str, Any]]:
        taken, self.frames = self.frames, []
        return taken


@pytest.fixture
def services(app: tornado.web.Application) -> Services:
    return app.settings["services"]


def session_for(services: Services, name: str, frames: Frames) -> CounterSession:
    return CounterSession(name, frames, services)


def changed_at(name: str, offset: int, epoch: str) -> CounterChanged:
    """A change at `offset`, published as a model would: for holes and repeats."""
    counter = dataclasses.replace(Counter.lookup(name).snapshot(), operation_count=offset)
    return CounterChanged("setValue", offset, offset - 1, counter, utcnow(), None, epoch=epoch)


@pytest.mark.gen_test
async def test_start_sends_the_snapshot_then_the_watchers_and_closing_cleans_up(services):
    for _ in range(3):
        Counter.increment("fresh")
    frames = Frames()
    session = session_for(services, "fresh", frames)
    await session.start()
    snapshot, presence = frames.take()
    assert snapshot["type"] == "snapshot"
    assert (snapshot["value"], snapshot["offset"]) == (3, 3)
    assert snapshot["epoch"]
    assert presence == {"type": "presence", "watchers": 1}
    assert services.registry.topics() == {
        counter_topic("fresh"): 1,
        presence_topic(counter_presence_key("fresh")): 1,
    }
    session.closed()
    session.closed()  # twice is harmless
    assert services.registry.topics() == {}
    assert services.presence.current(counter_presence_key("fresh")) == 0


@pytest.mark.gen_test
async def test_a_change_is_answered_once_durable_then_comes_live(services):
    frames = Frames()
    session = session_for(services, "change", frames)
    await session.start()
    frames.take()
    await session.receive('{"type": "increment", "amount": 5}')
    assert frames.types() == ["incrementResult"]  # the fan-out follows the answers
    await until(lambda: len(frames.frames) == 2, "the change's event")
    result, event = frames.take()
    assert (event["type"], event["value"], event["offset"]) == ("increment", 5, 1)
    assert result["type"] == "incrementResult"
    assert result["result"]["value"] == 5
    assert result["result"]["epoch"] == event["epoch"]
    assert Counter.lookup("change").value == 5
    session.closed()


@pytest.mark.gen_test
async def test_a_change_landing_while_the_snapshot_goes_out_follows_the_watchers(services):
    frames = Frames()
    session = session_for(services, "landing", frames)

    def change_once(frame: dict[str, Any]) -> None:
        if frame["type"] == "snapshot":
            Counter.increment("landing")  # published now: held until the session is ready

    frames.on_frame = change_once
    await session.start()
    assert frames.types() == ["snapshot", "presence", "increment"]
    assert frames.frames[2]["offset"] == frames.frames[0]["offset"] + 1
    session.closed()


@pytest.mark.gen_test
async def test_resume_replays_what_the_snapshot_holds_then_what_came_meanwhile(services):
    for _ in range(3):
        Counter.increment("resume")
    frames = Frames()
    session = session_for(services, "resume", frames)
    await session.start()
    epoch = frames.take()[0]["epoch"]

    def change_once(frame: dict[str, Any]) -> None:
        if frame.get("offset") == 1:
            frames.on_frame = None
            Counter.increment("resume")  # offset 4, held until the replay is out

    frames.on_frame = change_once
    await session.receive(orjson.dumps({"type": "resume", "offset": 0, "epoch": epoch}).decode())
    assert [frame["offset"] for frame in frames.frames] == [1, 2, 3, 4]
    frames.take()
    await session.receive(orjson.dumps({"type": "resume", "offset": 0, "epoch": epoch}).decode())
    (refused,) = frames.take()
    assert refused["type"] == "error"
    assert "already resumed" in refused["message"]
    session.closed()


@pytest.mark.gen_test
async def test_resume_from_another_epoch_is_one_reset_at_the_snapshot(services):
    Counter.increment("other-epoch")
    frames = Frames()
    session = session_for(services, "other-epoch", frames)
    await session.start()
    epoch = frames.take()[0]["epoch"]
    await session.receive(
        orjson.dumps({"type": "resume", "offset": 0, "epoch": "elsewhere"}).decode()
    )
    assert frames.take() == [{"type": "reset", "recovered": False, "offset": 1, "epoch": epoch}]
    session.closed()


@pytest.mark.gen_test
async def test_live_events_are_sent_once_and_a_hole_is_told_before_the_next(services):
    Counter.increment("holes")
    frames = Frames()
    session = session_for(services, "holes", frames)
    await session.start()
    epoch = frames.take()[0]["epoch"]
    events.publish(changed_at("holes", 1, epoch))  # already in the snapshot
    events.publish(changed_at("holes", 2, epoch))
    events.publish(changed_at("holes", 2, epoch))  # again
    events.publish(changed_at("holes", 5, epoch))  # 3 and 4 were lost
    sent = frames.take()
    assert [(frame["type"], frame["offset"]) for frame in sent] == [
        ("setValue", 2),
        ("reset", 4),
        ("setValue", 5),
    ]
    assert sent[1] == {"type": "reset", "recovered": False, "offset": 4, "epoch": epoch}
    session.closed()


@pytest.mark.gen_test
async def test_subscribe_filters_live_events_but_not_results(services):
    frames = Frames()
    session = session_for(services, "filtered", frames)
    await session.start()
    frames.take()
    await session.receive('{"type": "subscribe", "filters": {"operationTypes": ["reset"]}}')
    assert frames.take() == [{"type": "subscribed", "filters": {"operationTypes": ["reset"]}}]
    await session.receive('{"type": "increment"}')
    await session.receive('{"type": "reset"}')
    await until(lambda: "reset" in frames.types(), "the reset's event")
    # Events come in order: the increment's would be here, before the reset's.
    assert frames.types() == ["incrementResult", "resetResult", "reset"]
    session.closed()


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ("not json", "not valid JSON"),
        (b"{}", "Binary frames"),
        ('{"type": "increment", "amount": "1"}', "`amount` must be an integer"),
        ('{"type": "setValue"}', "`value` must be an integer"),
        ('{"type": "jump"}', "Unknown message type 'jump'"),
        ('{"type": "resume", "offset": -1, "epoch": "e"}', "Cannot resume"),
        ('{"type": "subscribe", "filters": {"operationTypes": ["nope"]}}', "'nope'"),
    ],
)
@pytest.mark.gen_test
async def test_a_bad_frame_is_an_error_that_changes_nothing(services, frame, says):
    Counter.increment("strict")
    frames = Frames()
    session = session_for(services, "strict", frames)
    await session.start()
    frames.take()
    await session.receive(frame)
    (error,) = frames.take()
    assert error["type"] == "error"
    assert says in error["message"]
    assert Counter.lookup("strict").operation_count == 1
    assert session.operation_types is None
    session.closed()


@pytest.mark.gen_test
async def test_a_stopping_session_runs_no_more_commands(services):
    frames = Frames()
    session = session_for(services, "stopping", frames)
    await session.start()
    frames.take()
    await session.stop()
    await session.receive('{"type": "increment"}')
    assert frames.take() == []
    assert Counter.lookup("stopping").operation_count == 0
    session.closed()


@pytest.mark.gen_test
async def test_presence_frames_say_each_number_once(services):
    frames = Frames()
    session = session_for(services, "crowd", frames)
    await session.start()
    assert frames.take()[1] == {"type": "presence", "watchers": 1}
    for watchers in (1, 2, 2, 3):
        events.publish(events.CounterPresenceChanged("crowd", watchers))
    assert frames.take() == [
        {"type": "presence", "watchers": 2},
        {"type": "presence", "watchers": 3},
    ]
    session.closed()


@pytest.mark.gen_test
async def test_a_socket_that_cannot_be_written_to_stops_listening(services):
    frames = Frames()
    session = session_for(services, "gone", frames)
    await session.start()
    frames.broken = True
    Counter.increment("gone")
    assert services.registry.topics() == {}
    Counter.increment("gone")  # no longer delivered
    assert frames.types() == ["snapshot", "presence"]


@pytest.mark.parametrize(
    ("module", "kept_out"),
    [
        ("app.protocols.counter_session", ("tornado",)),
        ("app.realtime.cursor", ("tornado", "graphql")),
    ],
)
def test_the_session_and_the_cursor_load_without_tornado(module, kept_out):
    """They are driven by any transport: Tornado stays in app/web."""
    check = (
        f"import sys, {module}\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {kept_out!r})\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
