"""A registry subscription as an async iterator of events.

GraphQL subscriptions (graphql-core's `subscribe`) want their source as
an async iterator; this is that iterator, fed by the registry. It
registers on creation and unregisters when closed, so a completed or
disconnected subscription leaves nothing behind.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from app.events import Topic
from app.realtime.registry import Registry


class EventStream(AsyncIterator[object]):
    def __init__(self, registry: Registry, topic: Topic) -> None:
        self.registry = registry
        self.topic = topic
        self.pending: deque[object] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False
        registry.add(topic, self)

    def deliver(self, event: object, shared: dict[object, object]) -> None:
        self.pending.append(event)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> object:
        while not self.pending:
            if self.closed:
                raise StopAsyncIteration
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.pending.popleft()

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.registry.discard(self.topic, self)
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)
