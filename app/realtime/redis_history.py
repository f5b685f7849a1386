"""The stream history kept in Redis (when `REDIS_URL` is set).

Per stream, two keys:

- `live:{stream}:meta`, a hash: the stream's `epoch` and `top` (newest
  offset recorded). It outlives idle periods (`meta_ttl`), so a client
  that comes back after the events themselves expired is told to refetch
  rather than told it missed nothing. If it is lost (expiry, a flushed or
  restarted Redis), the next event begins a new epoch: positions from the
  old history are then refused, never half-trusted.
- `live:{stream}:history`, a sorted set of the last `size` events, scored
  by offset, each member `"<unix ms> <event JSON>"`; it expires `ttl`
  seconds after the stream's last event, and older members are skipped
  when read.

Only events make keys. Reading a stream that has no history here (never
changed, or its history lost) writes nothing: it is told the database's
newest offset `top` and the epoch `begun_at(top)`, the epoch the next
event, `top + 1`, will begin the history with. So a client given that
position resumes from it once events come, and watching or reading any
number of names that never change leaves nothing behind in Redis. The
epoch still changes whenever a history is lost: a new one begins above
every offset the lost one held, so at a higher top, under another name.

Offsets come from the database, assigned in commit order (app.models.stream);
an event is written here right after its commit, by the broadcast, in the
same script that publishes it, so every process sees the history and the
live event agree. Events may reach Redis out of order from two processes:
scoring by offset puts them back in place.

Threading: everything here runs on the IOLoop thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis

from app.events import Topic, stream_name
from app.events_wire import decode
from app.realtime.history import BEGUN_AFTER, Batch, Position

#: Seconds to wait, one after another, for an event committed but not yet
#: appended here, before a history is taken as lost (about 0.1 s in all).
IN_FLIGHT_PAUSES = (0.005, 0.015, 0.03, 0.05)


def _keys(name: str) -> list[str]:
    """The stream's meta and history keys. The braces make both one Redis
    Cluster hash slot, as a script touching both requires."""
    return [f"live:{{{name}}}:meta", f"live:{{{name}}}:history"]


# KEYS: meta, history. ARGV: offset, member, size, ttl ms, meta ttl ms,
# the epoch a history begun by this event has, channel, message. Records
# the event, publishes "<epoch>\n<message>", returns the epoch.
_APPEND = """
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[6]) == 1 then
  redis.call('DEL', KEYS[2])
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local offset = tonumber(ARGV[1])
local top = tonumber(redis.call('HGET', KEYS[1], 'top') or '0')
if offset > top then redis.call('HSET', KEYS[1], 'top', offset) end
redis.call('ZADD', KEYS[2], offset, ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[3]) - 1)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[7], epoch .. '\\n' .. ARGV[8])
return epoch
"""

# KEYS: meta, history. ARGV: after, limit. Returns {} when the stream has
# no history here, else {epoch, top, members after `after`}. Writes nothing.
_READ = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then return {} end
local top = redis.call('HGET', KEYS[1], 'top') or '0'
local members = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf', 'LIMIT', 0, ARGV[2])
return {epoch, top, members}
"""


def begun_at(top: int) -> str:
    """The epoch of a history begun after offset `top`: the same for every
    process, and for readers before the first event as for that event."""
    return f"{BEGUN_AFTER}{top}"


class RedisHistory:
    def __init__(
        self,
        client: redis.Redis,
        size: int,
        ttl: float,
        meta_ttl: float,
        latest: Callable[[Topic], Awaitable[int]],
    ) -> None:
        #: The database's newest offset of a stream: where a history that
        #: Redis has just begun (a new epoch) starts.
        self.latest = latest
        self.size = size
        self.ttl = ttl
        self.meta_ttl = max(meta_ttl, ttl)
        self._append = client.register_script(_APPEND)
        self._read = client.register_script(_READ)

    async def append_and_publish(
        self, channel: str, topic: Topic, offset: int, data: bytes
    ) -> None:
        """Records one event and publishes it, stamped with the stream's epoch."""
        name = stream_name(topic)
        member = b"%d " % int(time.time() * 1000) + data
        await self._append(
            keys=_keys(name),
            args=[
                offset,
                member,
                self.size,
                int(self.ttl * 1000),
                int(self.meta_ttl * 1000),
                begun_at(offset - 1),
                channel,
                data,
            ],
        )

    async def read(self, topic: Topic, after: int) -> Batch:
        keys = _keys(stream_name(topic))
        raw: list[Any] = await self._read(keys=keys, args=[after, self.size])
        if not raw:
            # No history here: it will begin where the database is now.
            top = await self.latest(topic)
            if top <= after:
                return Batch(begun_at(top), top, [])
            # The database has events past `after` that Redis has not: either
            # the history was lost, or the first event of a new one is
            # between its commit and its append (milliseconds). Named now,
            # the epoch would be `begun_at(top)` while that event begins the
            # history at `begun_at(top - 1)`, and a reader resuming from just
            # before it would be told to refetch for nothing: wait for it.
            for pause in IN_FLIGHT_PAUSES:
                await asyncio.sleep(pause)
                raw = await self._read(keys=keys, args=[after, self.size])
                if raw:
                    break
            else:
                return Batch(begun_at(top), top, [])
        epoch = raw[0].decode()
        oldest = int((time.time() - self.ttl) * 1000)
        events = []
        for member in raw[2]:
            stamp, _, data = member.partition(b" ")
            if int(stamp) < oldest:
                continue  # expired: leaves a hole, so the resume is refused
            events.append(dataclasses.replace(decode(data)[1], epoch=epoch))  # type: ignore[type-var]
        return Batch(epoch, int(raw[1]), events)

    async def position(self, topic: Topic) -> Position:
        batch = await self.read(topic, 2**62)
        return Position(batch.top, batch.epoch)

    async def epoch(self, topic: Topic) -> str:
        return (await self.position(topic)).epoch
