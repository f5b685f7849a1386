"""How an event reaches every subscriber of its topic: the broadcast interface.

Two implementations behind the same few methods, chosen by
app.realtime.backends: `LocalBroadcast` (one process: straight to the
registry) and `RedisBroadcast` (app.realtime.redis_broadcast: through one
Redis channel, so every process delivers it to its own registry). The
fan-out to sockets lives in the registry, never in a broadcast.

Threading: everything here runs on the IOLoop thread (see app.realtime).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from app.events import Event, Topic
from app.realtime.registry import Registry


class Broadcast(Protocol):
    @property
    def healthy(self) -> bool:
        """False while events reach this process's subscribers only."""

    def publish(self, topic: Topic, event: object) -> None:
        """The publisher behind app.events.publish."""

    def publish_all(self, batch: Sequence[Event]) -> None:
        """The publisher behind app.events.publish_all: one committed batch,
        in commit order."""

    def start(self) -> None:
        """Begins delivering (called on the loop once it runs)."""

    async def stop(self) -> None:
        """Sends on what is waiting, if it can, and stops."""


class LocalBroadcast:
    """One process: publishing is delivering to this process's registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @property
    def healthy(self) -> bool:
        return True

    def publish(self, topic: Topic, event: object) -> None:
        self.registry.publish(topic, event)

    def publish_all(self, batch: Sequence[Event]) -> None:
        self.registry.publish_all([(event.topic, event) for event in batch])

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass
