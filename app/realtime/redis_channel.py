"""Listening to one Redis pub/sub channel for as long as a task runs.

Shared by the broadcast and presence, which both must survive Redis going
away: a lost subscription is reported, then retried with backoff (0.5 s
doubling to 10 s), and `subscribed` is called each time it is (re)made,
so that the caller can catch up on what it may have missed meanwhile.

Threading: runs on the IOLoop thread (see app.realtime).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import redis.asyncio as redis
from redis.exceptions import RedisError

FIRST_RETRY = 0.5
LAST_RETRY = 10.0


async def listen(
    url: str,
    channel: str,
    received: Callable[[bytes], None],
    subscribed: Callable[[], None],
    lost: Callable[[], None],
) -> None:
    delay = FIRST_RETRY
    while True:
        client = redis.from_url(url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel)
            delay = FIRST_RETRY
            subscribed()
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    received(message["data"])
        except (RedisError, OSError):
            lost()
        finally:
            await pubsub.aclose()
            await client.aclose()
        await asyncio.sleep(delay)
        delay = min(delay * 2, LAST_RETRY)
