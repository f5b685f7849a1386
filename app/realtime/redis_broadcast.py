"""Broadcast across processes through Redis pub/sub.

With `REDIS_URL` set, `publish` does not deliver to local sockets itself:
it sends the event to one Redis channel, in order, and every process
(this one included) delivers what it receives to its own registry. So a
tab on process A hears a change made on process B, and all processes see
one order of events, Redis's.

History. An event on a stream (one with an offset) is recorded in the
stream's Redis history by the same script that publishes it
(app.realtime.redis_history), and arrives stamped with the history's
epoch; other events are published as they are.

Order. Two processes publish independently, so an event can overtake one
committed just before it on another process. Stream events carry their
offset, given in commit order, and are delivered in offset order per
topic: an early one is held until its predecessor arrives, or for at most
`HOLD_SECONDS` (a predecessor may have been lost with Redis, or with a
process that died between its commit and its publish), then delivered
with whatever came after it. Each topic has at most one hold timer, and
it belongs to the events held now: when their predecessor arrives it is
cancelled (or, if later events still wait, started afresh for them), so a
timer left from an earlier hold can never cut a later one short.

If Redis goes away the server keeps serving HTTP and its sockets: events
are then delivered to this process's own sockets directly (other
processes cannot be reached), the outage is logged once, `/healthz`
reports "degraded", and the connection is retried with backoff until
Redis is back, when delivery through it resumes.

Threading: everything here runs on the IOLoop thread (see app.realtime).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.events import Event, Topic, position_of
from app.events_wire import decode, encode
from app.realtime.redis_channel import listen
from app.realtime.redis_history import RedisHistory
from app.realtime.registry import Registry

log = logging.getLogger(__name__)

CHANNEL = "live:events"
HOLD_SECONDS = 0.5
#: How long a topic's first event waits for a predecessor in flight.
FIRST_SIGHT_SECONDS = 0.05
#: Topics whose position is remembered; beyond this the oldest are forgotten.
MAX_TRACKED = 100_000


class RedisBroadcast:
    def __init__(
        self,
        url: str,
        registry: Registry,
        history_size: int = 1000,
        history_ttl: float = 600.0,
        history_meta_ttl: float = 86400.0,
        latest: Callable[[Topic], Awaitable[int]] | None = None,
    ) -> None:
        self.url = url
        self.registry = registry
        self.client = redis.from_url(url)
        self.history = RedisHistory(
            self.client, history_size, history_ttl, history_meta_ttl, latest or _no_latest
        )
        self.connected = False
        self.outbox: asyncio.Queue[tuple[Topic, object, bytes]] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        #: Per sequenced topic: the next sequence due, and events held early.
        self.due: dict[Topic, int] = {}
        self.held: dict[Topic, dict[int, object]] = {}
        #: Per topic with events held: the timer that gives up waiting.
        self.timers: dict[Topic, asyncio.TimerHandle] = {}

    @property
    def healthy(self) -> bool:
        return self.connected

    def start(self) -> None:
        self.tasks = [asyncio.ensure_future(self._receive()), asyncio.ensure_future(self._send())]

    async def stop(self, flush_within: float = 2.0) -> None:
        """Publishes what is still waiting (a change committed just before a
        shutdown reaches the other processes too), then stops."""
        if self.connected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox.join(), flush_within)
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.aclose()

    def publish(self, topic: Topic, event: object) -> None:
        """The publisher behind app.events.publish."""
        if not self.connected:
            self.registry.publish(topic, event)  # degraded: this process only
            return
        self.outbox.put_nowait((topic, event, encode(topic, event)))

    def publish_all(self, batch: Sequence[Event]) -> None:
        """The publisher behind app.events.publish_all: the batch's events
        go through Redis one by one, in order (each process's registry gets
        them one at a time)."""
        if not self.connected:
            self.registry.publish_all([(event.topic, event) for event in batch])
            return
        for event in batch:
            self.outbox.put_nowait((event.topic, event, encode(event.topic, event)))

    async def _send(self) -> None:
        """Publishes in order, one at a time, on the client the history
        reads with too (closed by `stop`)."""
        while True:
            topic, event, data = await self.outbox.get()
            offset = position_of(event)
            try:
                if offset is None:
                    await self.client.publish(CHANNEL, b"\n" + data)
                else:
                    await self.history.append_and_publish(CHANNEL, topic, offset, data)
            except (RedisError, OSError):
                self._lost()
                self.registry.publish(topic, event)  # at least this process hears it
            finally:
                self.outbox.task_done()

    async def _receive(self) -> None:
        await listen(
            self.url,
            CHANNEL,
            lambda message: self.deliver_in_order(*unwrap(message)),
            self._subscribed,
            self._lost,
        )

    def _subscribed(self) -> None:
        if not self.connected:
            log.info("connected to Redis: broadcasting through %s", CHANNEL)
        self.connected = True

    def deliver_in_order(self, topic: Topic, event: object) -> None:
        sequence = position_of(event)
        due = self.due.get(topic)
        if sequence is None or sequence == 1 or (due is not None and sequence <= due):
            self._deliver(topic, event, sequence)
            return
        # Early, or the first seen of this topic (its predecessor may still
        # be on its way from another process, if this started in between).
        held = self.held.setdefault(topic, {})
        held[sequence] = event
        if topic not in self.timers:
            self._wait(topic, HOLD_SECONDS if due is not None else FIRST_SIGHT_SECONDS)

    def _wait(self, topic: Topic, seconds: float) -> None:
        """(Re)starts the topic's one hold timer."""
        timer = self.timers.pop(topic, None)
        if timer is not None:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self.timers[topic] = loop.call_later(seconds, self._give_up_waiting, topic)

    def _deliver(self, topic: Topic, event: object, sequence: int | None) -> None:
        self.registry.publish(topic, event)
        if sequence is None:
            return
        if len(self.due) >= MAX_TRACKED and topic not in self.due:
            for old in list(self.due)[: MAX_TRACKED // 2]:
                self.due.pop(old)
        self.due[topic] = max(self.due.get(topic, 0), sequence + 1)
        held = self.held.get(topic)
        if not held or self.due[topic] not in held:
            return
        while held and self.due[topic] in held:
            successor = self.due[topic]
            self.registry.publish(topic, held.pop(successor))
            self.due[topic] = successor + 1
        if held:  # later ones still wait for theirs: a full wait of their own
            self._wait(topic, HOLD_SECONDS)
            return
        del self.held[topic]
        timer = self.timers.pop(topic, None)
        if timer is not None:
            timer.cancel()

    def _give_up_waiting(self, topic: Topic) -> None:
        """A predecessor never came: deliver what is held, in order."""
        self.timers.pop(topic, None)
        held = self.held.pop(topic, {})
        for sequence in sorted(held):
            self._deliver(topic, held[sequence], sequence)

    def _lost(self) -> None:
        if self.connected:
            log.error("lost Redis: delivering to this process's sockets only, retrying")
        self.connected = False


def unwrap(message: bytes) -> tuple[Topic, object]:
    """A message from the channel, `<epoch>\n<event JSON>`: the event's topic,
    and the event stamped with its history's epoch (if it has one)."""
    epoch, _, data = message.partition(b"\n")
    topic, event = decode(data)
    if epoch:
        event = dataclasses.replace(event, epoch=epoch.decode())  # type: ignore[type-var]
    return topic, event


async def _no_latest(topic: Topic) -> int:
    """Without a database to ask, a history begun afresh starts at 0."""
    return 0
