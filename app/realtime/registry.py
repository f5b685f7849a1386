"""The registry of live connections, and the fan-out of each event.

A dict from topic to the subscribers listening on it: per counter
(`("counter", name)`) and per user channel (`("user", id, "library")`).
Publishing costs O(subscribers of that topic). It knows nothing of
GraphQL or of any wire format: each subscriber turns the event into its
own frame, and the `shared` dict passed along one event's delivery lets
subscribers that send the same bytes build them only once.

A subscriber may stand for many recipients (a `Crowd`: a group of alike
GraphQL subscriptions); the registry then delivers to its members itself,
a part at a time, so that a crowd of any size can be split like a topic
of many subscribers.

Slices. Delivering an event to 10,000 sockets takes tens of milliseconds;
done in one go, every request and every other socket would wait that
long. So deliveries run in slices of at most `slice_size` (one recipient
getting one event is one delivery): the first slice at once, the rest on
later turns of the event loop, with whatever else is ready in between. Each
publish (one event, or one committed batch) is a job in one FIFO, and a
job starts only once every job before it has ended, so no recipient ever
gets an event before an earlier one. The audience is taken when the event
is published: a subscriber that arrives later does not get it, one that
leaves meanwhile is skipped. The queue is bounded (`MAX_BACKLOG`): past
it a publish is delivered before it returns, as before slicing.

Batches. `publish_all` takes the events of one committed batch. Each
recipient (or part of a crowd) gets all of its events of the batch, in
order, inside one `batching` block (the socket writer's cork,
app.realtime.writer.Cork) before the next is served, so the frames of a
whole batch leave in one write per socket. (A single event needs no cork:
measured, holding frames for a slice only costs time.)
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Protocol

from tornado.ioloop import IOLoop

from app import metrics
from app.clock import utcnow
from app.events import Topic

log = logging.getLogger(__name__)

#: Deliveries per slice. Measured (bench fanout, 10,000 graphql-ws
#: subscribers of one group, on 2 busy cores): 11-14 µs of CPU each, so a
#: slice holds the loop for about 3 ms.
SLICE_SIZE = 250
#: Deliveries that may wait for later slices. Past this, publishing
#: delivers at once until below it again: a publisher faster than the
#: fan-out is held back, rather than the queue (and every recipient's
#: delay) growing without end.
MAX_BACKLOG = 100 * SLICE_SIZE
#: What a crowd's preparing of one event (a GraphQL group executes it once,
#: ~70 µs) counts for, in deliveries (one socket write each).
CROWD_COST = 8


class Subscriber(Protocol):
    def deliver(self, event: object, shared: dict[object, object]) -> None:
        """Sends `event` on; may reuse or fill `shared` for this event."""


class Crowd(Subscriber, Protocol):
    """A subscriber that stands for many recipients, delivered to a part at
    a time (`deliver_part`); it may be called for any of its members."""

    def members_now(self) -> Sequence[object]:
        """Who would get an event published now."""

    def deliver_part(
        self, event: object, shared: dict[object, object], members: Sequence[object]
    ) -> None:
        """Sends `event` to these members; `shared` is the same for every
        part of one event, so work done once per event is kept there."""


#: One topic's share of a publish: the topic, its events (each with its
#: shared dict), and its audience when published (a crowd with its members).
_Part = tuple[
    Topic,
    list[tuple[object, dict[object, object]]],
    list[Subscriber],
    list[tuple[Crowd, Sequence[object]]],
]


class Registry:
    def __init__(
        self,
        slice_size: int = SLICE_SIZE,
        max_backlog: int = MAX_BACKLOG,
        batching: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> None:
        #: Per topic, its subscribers; crowds among them are also in `_crowds`.
        self._topics: dict[Topic, dict[Subscriber, None]] = {}
        self._crowds: dict[Topic, dict[Crowd, None]] = {}
        self.slice_size = max(1, slice_size)
        self.max_backlog = max_backlog
        self.batching = batching
        #: Publishes not yet delivered to all, oldest first; the deliveries
        #: each was published for, and their sum.
        self._jobs: deque[Iterator[int]] = deque()
        self._sizes: deque[int] = deque()
        self._backlog = 0
        #: Whether a slice is being run, and whether the next is scheduled.
        self._running = self._scheduled = False
        #: The slice being run: work left in it (in deliveries, see
        #: `CROWD_COST`), and deliveries made.
        self._room = self._delivered = 0

    def add(self, topic: Topic, subscriber: Subscriber) -> None:
        self._topics.setdefault(topic, {})[subscriber] = None
        if hasattr(type(subscriber), "deliver_part"):
            self._crowds.setdefault(topic, {})[subscriber] = None  # type: ignore[index]

    def discard(self, topic: Topic, subscriber: Subscriber) -> None:
        subscribers = self._topics.get(topic)
        if subscribers is None or subscriber not in subscribers:
            return
        del subscribers[subscriber]
        if not subscribers:
            del self._topics[topic]
        crowds = self._crowds.get(topic)
        if crowds is not None and subscriber in crowds:
            del crowds[subscriber]
            if not crowds:
                del self._crowds[topic]

    def subscribers(self, topic: Topic) -> frozenset[Subscriber]:
        return frozenset(self._topics.get(topic, ()))

    def listened(self, topic: Topic) -> bool:
        """Whether anyone listens on `topic` (without copying who)."""
        return topic in self._topics

    def count(self, kind: str) -> int:
        """How many topics of one kind (such as "user-sockets") have subscribers."""
        return sum(1 for topic in self._topics if topic[0] == kind)

    def topics(self) -> dict[Topic, int]:
        """How many subscribers each topic has (for tests and metrics)."""
        return {topic: len(subs) for topic, subs in self._topics.items()}

    @property
    def pending(self) -> int:
        """Publishes not yet delivered to every recipient."""
        return len(self._jobs)

    # ------------------------------------------------------------ publishing

    def routes(self, topic: Topic, event: object) -> Sequence[tuple[Topic, object]]:
        """Where one published event goes: its own topic; subclasses may add."""
        return ((topic, event),)

    def publish(self, topic: Topic, event: object) -> None:
        """Delivers `event` to every subscriber of `topic`.

        A subscriber that raises is dropped and logged; the others still
        get the event.
        """
        self.publish_all(((topic, event),))

    def publish_all(self, batch: Sequence[tuple[Topic, object]]) -> None:
        """Delivers the events of one batch, in order, each subscriber its
        own in one go (see the module docstring)."""
        by_topic: dict[Topic, list[tuple[object, dict[object, object]]]] = {}
        now: datetime | None = None
        for published_topic, published in batch:
            for topic, event in self.routes(published_topic, published):
                metrics.events_published.labels(topic[0]).inc()
                if topic not in self._topics:
                    continue
                committed = getattr(event, "timestamp", None)
                if isinstance(committed, datetime):
                    now = now or utcnow()
                    metrics.delivery_lag_seconds.observe(
                        max(0.0, (now - committed).total_seconds())
                    )
                by_topic.setdefault(topic, []).append((event, {}))
        if not by_topic:
            return
        parts: list[_Part] = []
        for topic, events in by_topic.items():
            crowds = self._crowds.get(topic, {})
            parts.append(
                (
                    topic,
                    events,
                    [s for s in self._topics[topic] if s not in crowds]
                    if crowds
                    else list(self._topics[topic]),
                    [(crowd, crowd.members_now()) for crowd in crowds],
                )
            )
        self._jobs.append(self._deliver(parts))
        size = sum(len(p[1]) * (len(p[2]) + sum(len(m) for _, m in p[3])) for p in parts)
        self._sizes.append(size)
        self._backlog += size
        if self._running:  # published by a delivery: it waits its turn
            return
        if len(self._jobs) == 1:  # nothing before it: its first slice now
            self._slice()
        # Publishing faster than the fan-out keeps up: deliver now, holding
        # the publisher (and the loop), as an unsliced fan-out would.
        while self._backlog > self.max_backlog:
            self._slice()
        if self._jobs and not self._scheduled:
            self._scheduled = True
            IOLoop.current().add_callback(self._next_slice)

    def _next_slice(self) -> None:
        self._scheduled = False
        self._slice()
        if self._jobs:
            self._scheduled = True
            IOLoop.current().add_callback(self._next_slice)

    def _slice(self) -> None:
        """Delivers up to `slice_size`, oldest publish first."""
        started = time.perf_counter()
        jobs = self._jobs
        self._room, self._delivered = self.slice_size, 0
        self._running = True
        try:
            while jobs and self._room > 0:
                try:
                    for done in jobs[0]:
                        self._room -= done
                        if self._room <= 0:
                            break
                    else:
                        self._done()
                except Exception:  # a bug, not a subscriber's failure: never stall the FIFO
                    log.exception("fan-out failed part-way; dropping the rest of one publish")
                    self._done()
        finally:
            self._running = False
        metrics.messages_delivered.inc(self._delivered)
        metrics.fanout_seconds.observe(time.perf_counter() - started)

    def _done(self) -> None:
        self._jobs.popleft()
        self._backlog -= self._sizes.popleft()

    def _deliver(self, parts: list[_Part]) -> Iterator[int]:
        """One publish's deliveries, yielding how many after each recipient
        (or part of a crowd); `_run_slice` stops between two."""
        for topic, events, subscribers, crowds in parts:
            count = len(events)
            event, shared = events[0]
            for subscriber in subscribers:
                listening = self._topics.get(topic)
                if listening is None or subscriber not in listening:
                    continue  # gone meanwhile
                try:
                    if count == 1:
                        subscriber.deliver(event, shared)
                    else:
                        with self.batching():
                            for each, its_shared in events:
                                subscriber.deliver(each, its_shared)
                except Exception:
                    log.exception("dropping subscriber %r of %s", subscriber, topic)
                    self.discard(topic, subscriber)
                self._delivered += count
                yield count
            for crowd, members in crowds:
                start, first = 0, True
                while start < len(members):
                    listening = self._topics.get(topic)
                    if listening is None or crowd not in listening:
                        break  # gone meanwhile (its members with it)
                    step = max(1, self._room // count - (CROWD_COST if first else 0))
                    part = members[start : start + step]
                    start += step
                    try:
                        if count == 1:
                            crowd.deliver_part(event, shared, part)
                        else:
                            with self.batching():
                                for each, its_shared in events:
                                    crowd.deliver_part(each, its_shared, part)
                    except Exception:
                        log.exception("dropping subscriber %r of %s", crowd, topic)
                        self.discard(topic, crowd)
                    self._delivered += count * len(part)
                    yield count * (len(part) + (CROWD_COST if first else 0))
                    first = False
