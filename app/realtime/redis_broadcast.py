"""Broadcast across processes through Redis pub/sub.

With `REDIS_URL` set, `publish` does not deliver to local sockets itself:
it sends the event to one Redis channel, in order, and every process
(this one included) delivers what it receives to its own registry. So a
tab on process A hears a change made on process B, and all processes see
one order of events, Redis's.

If Redis goes away the server keeps serving HTTP and its sockets: events
are then delivered to this process's own sockets directly (other
processes cannot be reached), the outage is logged once, `/healthz`
reports "degraded", and the connection is retried with backoff until
Redis is back, when delivery through it resumes.

Threading: everything here runs on the IOLoop thread (see app.realtime).
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.events import Topic
from app.events_wire import decode, encode
from app.realtime.registry import Registry

log = logging.getLogger(__name__)

CHANNEL = "live:events"
FIRST_RETRY = 0.5
LAST_RETRY = 10.0


class RedisBroadcast:
    def __init__(self, url: str, registry: Registry) -> None:
        self.url = url
        self.registry = registry
        self.connected = False
        self.outbox: asyncio.Queue[tuple[Topic, object, bytes]] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def healthy(self) -> bool:
        return self.connected

    def start(self) -> None:
        self.tasks = [asyncio.ensure_future(self._receive()), asyncio.ensure_future(self._send())]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def publish(self, topic: Topic, event: object) -> None:
        """The publisher behind app.events.publish."""
        if not self.connected:
            self.registry.publish(topic, event)  # degraded: this process only
            return
        self.outbox.put_nowait((topic, event, encode(topic, event)))

    async def _send(self) -> None:
        client = redis.from_url(self.url)
        try:
            while True:
                topic, event, data = await self.outbox.get()
                try:
                    await client.publish(CHANNEL, data)
                except (RedisError, OSError):
                    self._lost()
                    self.registry.publish(topic, event)  # at least this process hears it
        finally:
            await client.aclose()

    async def _receive(self) -> None:
        delay = FIRST_RETRY
        while True:
            client = redis.from_url(self.url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                if not self.connected:
                    log.info("connected to Redis: broadcasting through %s", CHANNEL)
                self.connected = True
                delay = FIRST_RETRY
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        topic, event = decode(message["data"])
                        self.registry.publish(topic, event)
            except (RedisError, OSError):
                self._lost()
            finally:
                await pubsub.aclose()
                await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY)

    def _lost(self) -> None:
        if self.connected:
            log.error("lost Redis: delivering to this process's sockets only, retrying")
        self.connected = False
