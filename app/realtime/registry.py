"""The registry of live connections, and the fan-out of each event.

A dict from topic to the set of subscribers listening on it: per counter
(`("counter", name)`) and per user channel (`("user", id, "library")`).
Publishing costs O(subscribers of that topic). It knows nothing of
GraphQL or of any wire format: each subscriber turns the event into its
own frame, and the `shared` dict passed along one publish lets
subscribers that send the same bytes build them only once.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Protocol

from app import metrics
from app.clock import utcnow
from app.events import Topic

log = logging.getLogger(__name__)


class Subscriber(Protocol):
    def deliver(self, event: object, shared: dict[object, object]) -> None:
        """Sends `event` on; may reuse or fill `shared` for this publish."""


class Registry:
    def __init__(self) -> None:
        self._topics: dict[Topic, set[Subscriber]] = {}

    def add(self, topic: Topic, subscriber: Subscriber) -> None:
        self._topics.setdefault(topic, set()).add(subscriber)

    def discard(self, topic: Topic, subscriber: Subscriber) -> None:
        subscribers = self._topics.get(topic)
        if subscribers is None:
            return
        subscribers.discard(subscriber)
        if not subscribers:
            del self._topics[topic]

    def subscribers(self, topic: Topic) -> frozenset[Subscriber]:
        return frozenset(self._topics.get(topic, ()))

    def count(self, kind: str) -> int:
        """How many topics of one kind (such as "user-sockets") have subscribers."""
        return sum(1 for topic in self._topics if topic[0] == kind)

    def topics(self) -> dict[Topic, int]:
        """How many subscribers each topic has (for tests and metrics)."""
        return {topic: len(subs) for topic, subs in self._topics.items()}

    def publish(self, topic: Topic, event: object) -> None:
        """Delivers `event` to every subscriber of `topic`.

        A subscriber that raises is dropped and logged; the others still
        get the event.
        """
        metrics.events_published.labels(topic[0]).inc()
        subscribers = self._topics.get(topic)
        if not subscribers:
            return
        started = time.perf_counter()
        committed = getattr(event, "timestamp", None)
        if isinstance(committed, datetime):
            metrics.delivery_lag_seconds.observe(max(0.0, (utcnow() - committed).total_seconds()))
        shared: dict[object, object] = {}
        delivered = 0
        # Copy: delivering may close a socket, which discards itself.
        for subscriber in tuple(subscribers):
            try:
                subscriber.deliver(event, shared)
                delivered += getattr(subscriber, "audience", 1)
            except Exception:
                log.exception("dropping subscriber %r of %s", subscriber, topic)
                self.discard(topic, subscriber)
        metrics.messages_delivered.inc(delivered)
        metrics.fanout_seconds.observe(time.perf_counter() - started)
