"""The registry on its own: fan-out, sharing, and dropping broken subscribers."""

from __future__ import annotations

import logging

import pytest

from app.realtime.registry import Registry
from tests.waiting import until


class Recorder:
    def __init__(self) -> None:
        self.events: list[object] = []

    def deliver(self, event: object, shared: dict[object, object]) -> None:
        shared["built"] = shared.get("built", 0) + 1  # type: ignore[operator]
        self.events.append((event, shared["built"]))


class Broken:
    def deliver(self, event: object, shared: dict[object, object]) -> None:
        raise OSError("socket gone")


def test_publish_reaches_the_topic_only_and_shares_one_dict_per_publish():
    registry = Registry()
    a, b, other = Recorder(), Recorder(), Recorder()
    registry.add(("counter", "x"), a)
    registry.add(("counter", "x"), b)
    registry.add(("counter", "y"), other)
    registry.publish(("counter", "x"), "event-1")
    assert sorted(n for _, n in a.events + b.events) == [1, 2]  # one shared dict
    assert other.events == []


def test_a_failing_subscriber_is_dropped_and_the_others_still_hear(caplog):
    registry = Registry()
    good = Recorder()
    registry.add(("counter", "x"), Broken())
    registry.add(("counter", "x"), good)
    with caplog.at_level(logging.ERROR):
        registry.publish(("counter", "x"), "e")
    assert [e for e, _ in good.events] == ["e"]
    assert registry.topics() == {("counter", "x"): 1}
    assert "socket gone" in caplog.text


def test_discarding_the_last_subscriber_removes_the_topic():
    registry = Registry()
    one = Recorder()
    registry.add(("user", "1", "library"), one)
    registry.discard(("user", "1", "library"), one)
    registry.discard(("user", "1", "library"), one)  # twice is harmless
    assert registry.topics() == {}


class Crowd(Recorder):
    """A subscriber standing for several recipients, as a GraphQL group does."""

    def __init__(self, members: list[str]) -> None:
        super().__init__()
        self.members = members
        self.parts: list[tuple[object, tuple[str, ...]]] = []

    def members_now(self) -> tuple[str, ...]:
        return tuple(self.members)

    def deliver_part(self, event: object, shared: dict[object, object], members) -> None:
        self.parts.extend((event, member) for member in members)


@pytest.mark.gen_test
async def test_slices_serve_the_audience_of_each_publish_in_order_as_it_was_when_published():
    registry = Registry(slice_size=1)
    first, leaving, last = Recorder(), Recorder(), Recorder()
    crowd = Crowd(["m1", "m2"])
    for subscriber in (first, leaving, crowd, last):
        registry.add(("counter", "x"), subscriber)

    registry.publish(("counter", "x"), "e1")
    assert [e for e, _ in first.events] == ["e1"]  # the first slice, at once
    assert registry.pending == 1
    late = Recorder()
    registry.add(("counter", "x"), late)  # after e1: gets e2 only
    registry.discard(("counter", "x"), leaving)  # before its turn: skipped
    crowd.members.append("m3")  # joins the crowd after e1: gets e2 only
    registry.publish_all([(("counter", "x"), "e2"), (("counter", "x"), "e3")])
    assert registry.pending == 2

    await until(lambda: registry.pending == 0, "every slice")
    assert [e for e, _ in first.events] == ["e1", "e2", "e3"]
    assert leaving.events == []
    assert [e for e, _ in last.events] == ["e1", "e2", "e3"]
    assert [e for e, _ in late.events] == ["e2", "e3"]
    by_member: dict[str, list[object]] = {}
    for event, member in crowd.parts:
        by_member.setdefault(member, []).append(event)
    assert by_member == {"m1": ["e1", "e2", "e3"], "m2": ["e1", "e2", "e3"], "m3": ["e2", "e3"]}
    assert crowd.events == []  # a crowd is delivered to by parts only


@pytest.mark.gen_test
async def test_a_publisher_faster_than_the_fan_out_is_held_until_the_backlog_is_bounded():
    registry = Registry(slice_size=1, max_backlog=5)
    subscribers = [Recorder() for _ in range(4)]
    for subscriber in subscribers:
        registry.add(("counter", "x"), subscriber)

    registry.publish(("counter", "x"), "e1")  # 4 deliveries may wait
    assert registry.pending == 1
    registry.publish(("counter", "x"), "e2")  # 8 would: e1 is delivered first, now
    assert [[e for e, _ in s.events] for s in subscribers][1:] == [["e1"]] * 3
    assert registry.pending == 1

    await until(lambda: registry.pending == 0, "every slice")
    assert [[e for e, _ in s.events] for s in subscribers] == [["e1", "e2"]] * 4
