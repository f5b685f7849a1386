"""The registry on its own: fan-out, sharing, and dropping broken subscribers."""

from __future__ import annotations

import logging

from app.realtime.registry import Registry


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
