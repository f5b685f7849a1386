"""The Redis broadcast's hold of early events, one timer per topic: an
event that overtook its predecessor waits for it, and the timer that
would give up waiting belongs to the events held now, never to an
earlier hold. (tests/test_recovery_scale_out.py proves the same end to
end, with 2,000 changes through two processes.)"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.clock import utcnow
from app.events import CounterChanged, CounterSnapshot
from app.realtime.redis_broadcast import RedisBroadcast
from app.realtime.registry import Registry
from tests.waiting import until

TOPIC = ("counter", "held")


@dataclass(frozen=True)
class Numbered:
    offset: int


class Heard:
    def __init__(self) -> None:
        self.offsets: list[int] = []

    def deliver(self, event: object, shared: dict[object, object]) -> None:
        self.offsets.append(event.offset)  # type: ignore[attr-defined]


@pytest.fixture
def broadcast(redis_server):
    registry = Registry()
    heard = Heard()
    registry.add(TOPIC, heard)
    made = RedisBroadcast(redis_server.url, registry)
    made.heard = heard  # type: ignore[attr-defined]
    return made


@pytest.mark.gen_test
async def test_a_hold_that_drains_cancels_its_timer_and_a_later_hold_gets_its_own(broadcast):
    for offset in (1, 3):
        broadcast.deliver_in_order(TOPIC, Numbered(offset))
    first = broadcast.timers[TOPIC]
    broadcast.deliver_in_order(TOPIC, Numbered(2))  # 3's predecessor: the hold drains
    assert first.cancelled()
    assert TOPIC not in broadcast.timers

    broadcast.deliver_in_order(TOPIC, Numbered(5))
    second = broadcast.timers[TOPIC]
    assert second is not first
    assert not second.cancelled()
    broadcast.deliver_in_order(TOPIC, Numbered(4))
    assert second.cancelled()
    assert broadcast.heard.offsets == [1, 2, 3, 4, 5]
    await broadcast.stop()


@pytest.mark.gen_test
async def test_a_partly_drained_hold_waits_afresh_for_what_is_still_held(broadcast):
    for offset in (1, 3, 5):
        broadcast.deliver_in_order(TOPIC, Numbered(offset))
    first = broadcast.timers[TOPIC]
    broadcast.deliver_in_order(TOPIC, Numbered(2))  # 2 and 3 go; 5 still waits for 4
    assert first.cancelled()
    assert not broadcast.timers[TOPIC].cancelled()
    assert broadcast.heard.offsets == [1, 2, 3]
    await broadcast.stop()


@pytest.mark.gen_test
async def test_stop_cancels_the_timers_of_events_still_held(broadcast):
    for offset in (1, 3):
        broadcast.deliver_in_order(TOPIC, Numbered(offset))
    timer = broadcast.timers[TOPIC]
    await broadcast.stop()
    assert timer.cancelled()
    assert broadcast.timers == {}


def changes(count: int) -> list[CounterChanged]:
    """The first `count` changes of the counter "held", in order."""
    now = utcnow()
    return [
        CounterChanged(
            "increment",
            n,
            n - 1,
            CounterSnapshot(1, "held", n, now, now, operation_count=n),
            now,
            None,
        )
        for n in range(1, count + 1)
    ]


@pytest.mark.gen_test(timeout=20)
async def test_a_batch_goes_through_redis_in_order_and_stays_local_while_redis_is_away(
    broadcast,
):
    broadcast.publish_all(changes(2))  # not connected yet: this process only, at once
    assert broadcast.heard.offsets == [1, 2]
    broadcast.heard.offsets.clear()
    broadcast.due.clear()

    broadcast.start()
    await until(lambda: broadcast.connected, "the connection to Redis")
    broadcast.publish_all(changes(5)[2:])  # 3, 4, 5: each through the channel, in order
    assert broadcast.heard.offsets == []
    await until(lambda: len(broadcast.heard.offsets) == 3, "the batch back from Redis")
    assert broadcast.heard.offsets == [3, 4, 5]
    await broadcast.stop()
