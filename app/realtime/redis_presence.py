"""Presence across processes through Redis (when `REDIS_URL` is set).

Each process writes its own count of each key into the
hash `presence:{key}` (field: process id) and keeps itself alive in the
sorted set `presence:alive` (score: expiry in Redis's clock, ms). A
process renews both every `renew` seconds; fields of a process whose
expiry has passed are ignored, and deleted by whichever process reads
them next, so a killed process's watchers vanish within about `ttl`.
Totals are read atomically with a Lua script. After writing, a process
publishes the changed keys on `live:presence` (not the events channel);
every process then re-reads the totals of the keys it has listeners
for. A sweep every `renew` seconds re-reads all of them anyway, which is
what retires expired processes and covers lost pub/sub messages. If
Redis is unreachable the totals fall back to local counts, the outage is
logged once, and the next sweep retries.

Members (app.realtime.members) ride along in a second hash per key,
`presence-members:{key}` (field: process id, value: that process's
usernames as JSON, or the cut marker past the bound), written by the same
script as the count (a key without members costs one HDEL of nothing); the totals script
returns each live process's members with its sum, and expires them the same
way, so a killed process's members vanish with its counts.

Threading: everything here runs on the IOLoop thread (see app.realtime).
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import orjson
import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from app.realtime.members import Names, merge, parse
from app.realtime.presence import Counts, Key
from app.realtime.redis_channel import listen

log = logging.getLogger(__name__)

CHANNEL = "live:presence"
ALIVE = "presence:alive"


# KEYS[1]: the alive set; KEYS[2..n+1]: count hashes; KEYS[n+2..2n+1]:
# their members hashes. ARGV[1]: process id; ARGV[2]: ttl in ms;
# ARGV[3..n+2]: this process's count for each hash (0 deletes);
# ARGV[n+3..2n+2]: its members of each ("" deletes).
_PUT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local n = (#KEYS - 1) / 2
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 2, n + 1 do
  local count = tonumber(ARGV[i + 1])
  if count > 0 then
    redis.call('HSET', KEYS[i], ARGV[1], count)
    redis.call('PEXPIRE', KEYS[i], ttl)
  else
    redis.call('HDEL', KEYS[i], ARGV[1])
  end
  local members = ARGV[i + n + 1]
  if members ~= '' then
    redis.call('HSET', KEYS[i + n], ARGV[1], members)
    redis.call('PEXPIRE', KEYS[i + n], ttl)
  else
    redis.call('HDEL', KEYS[i + n], ARGV[1])
  end
end
return n
"""

# KEYS as for _PUT. ARGV[1]: the reader's process id, left out of the sums
# (it adds its exact local count and members itself). Fields of expired
# processes are deleted on the way. Per key: {sum, members of each other
# live process...}.
_TOTALS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = (#KEYS - 1) / 2
local totals = {}
local function alive(pid)
  local expiry = redis.call('ZSCORE', KEYS[1], pid)
  return expiry and tonumber(expiry) > now
end
for i = 2, n + 1 do
  local total = 0
  local entries = redis.call('HGETALL', KEYS[i])
  for j = 1, #entries, 2 do
    local pid = entries[j]
    if pid ~= ARGV[1] then
      if alive(pid) then
        total = total + tonumber(entries[j + 1])
      else
        redis.call('HDEL', KEYS[i], pid)
      end
    end
  end
  local row = {total}
  local members = redis.call('HGETALL', KEYS[i + n])
  for j = 1, #members, 2 do
    local pid = members[j]
    if pid ~= ARGV[1] then
      if alive(pid) then
        row[#row + 1] = members[j + 1]
      else
        redis.call('HDEL', KEYS[i + n], pid)
      end
    end
  end
  totals[#totals + 1] = row
end
return totals
"""

# On a clean stop: this process's fields and its life line, gone at once.
_GONE = """
for i = 2, #KEYS do redis.call('HDEL', KEYS[i], ARGV[1]) end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""


def redis_key(key: Key) -> str:
    """`presence:counter:name`; key parts never contain ':' (names are
    `A-Z a-z 0-9 _ . -`, user ids digits)."""
    return "presence:" + ":".join(key)


def members_key(key: Key) -> str:
    """`presence-members:counter:name`: each process's members of `key`."""
    return "presence-members:" + ":".join(key)


def _hashes(keys: list[Key]) -> list[str]:
    """The KEYS of the scripts: the alive set, count hashes, members hashes."""
    return [ALIVE, *map(redis_key, keys), *map(members_key, keys)]


class RedisTotals:
    """Totals across every process that shares one Redis, as the `Totals`
    component of a `Presence`; see the module docstring for the scheme."""

    def __init__(self, url: str, ttl: float) -> None:
        self.url = url
        self.ttl_ms = max(1, int(ttl * 1000))
        self.process_id = uuid.uuid4().hex
        self.connected = False
        #: Per followed key: the sum over the other live processes.
        self.remote: dict[Key, int] = {}
        #: Per followed key: the members of the other live processes.
        self.remote_members: dict[Key, Names] = {}
        self._dirty: set[Key] = set()
        self._stale: set[Key] = set()
        self._renew_due = True
        self._outage_logged = False
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: redis.Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}
        #: Keys whose hash holds a field of this process.
        self._written: set[Key] = set()
        self._bound: Counts | None = None

    def bind(self, counts: Counts) -> None:
        self._bound = counts

    @property
    def counts(self) -> Counts:
        assert self._bound is not None, "bound by its Presence"
        return self._bound

    @property
    def local(self) -> dict[Key, int]:
        return self.counts.local

    @property
    def followed_keys(self) -> set[Key]:
        return self.counts.followed

    @property
    def healthy(self) -> bool:
        return self.connected

    def total(self, key: Key) -> int | None:
        own = self.local.get(key, 0)
        if not self.connected:
            return own  # degraded: this process's own count
        remote = self.remote.get(key)
        return None if remote is None else remote + own

    def members(self, key: Key) -> Names:
        own = self.counts.roster.names(key)
        if not self.connected:
            return own
        return merge((self.remote_members.get(key, ()), own), self.counts.roster.limit)

    def followed(self, key: Key) -> None:
        if key not in self.remote and self.connected:
            self._stale.add(key)
            self._wake.set()

    async def count(self, key: Key) -> int:
        known = self.total(key) if key in self.remote or not self.connected else None
        if known is not None:
            return known
        try:
            ((remote, _members),) = await self._read([key])
        except (RedisError, OSError):
            self._lost()
            return self.local.get(key, 0)
        return remote + self.local.get(key, 0)

    async def watching(self, key: Key) -> tuple[int, Names]:
        own = self.counts.roster.names(key)
        if not self.connected:
            return self.local.get(key, 0), own
        if key in self.remote:
            return self.remote[key] + self.local.get(key, 0), self.members(key)
        try:
            ((remote, members),) = await self._read([key])
        except (RedisError, OSError):
            self._lost()
            return self.local.get(key, 0), own
        return remote + self.local.get(key, 0), merge((members, own), self.counts.roster.limit)

    def local_moved(self, key: Key) -> None:
        self._dirty.add(key)
        self._wake.set()

    def forgot(self, key: Key) -> None:
        self.remote.pop(key, None)
        self.remote_members.pop(key, None)
        self._stale.discard(key)

    # ----------------------------------------------------------- running

    def start(self) -> None:
        self._client = redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)
        self._scripts = {
            name: self._client.register_script(source)
            for name, source in (("put", _PUT), ("totals", _TOTALS), ("gone", _GONE))
        }
        self._tasks = [asyncio.ensure_future(self._work()), asyncio.ensure_future(self._listen())]
        self._wake.set()

    async def stop(self) -> None:
        """A clean stop takes this process's watchers away at once."""
        keys = list(self._written | self._dirty | set(self.local))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._client is None:
            return
        try:
            if self.connected:
                await self._scripts["gone"](keys=_hashes(keys), args=[self.process_id])
                if keys:
                    await self._client.publish(CHANNEL, orjson.dumps(keys))
        except (RedisError, OSError):
            log.warning("could not remove this process's presence from Redis; it expires")
        finally:
            await self._client.aclose()
            self._client = None

    def swept(self) -> None:
        self._renew_due = True
        self._stale |= self.followed_keys
        self._wake.set()

    async def _work(self) -> None:
        """The one writer and reader: renews, writes changed counts,
        re-reads stale totals; in order, so counts never go backwards."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.connected and not self._renew_due:
                # Degraded: local counts serve; only the sweep retries Redis.
                self._dirty.clear()
                self._stale.clear()
                continue
            dirty, self._dirty = self._dirty, set()
            try:
                if self._renew_due:
                    self._renew_due = False
                    dirty |= set(self.local)
                    await self._put(list(self.local) + [k for k in dirty if k not in self.local])
                    self._reached()
                elif dirty:
                    await self._put(list(dirty))
                if dirty:
                    await self._client_or_fail().publish(CHANNEL, orjson.dumps(list(dirty)))
                stale, self._stale = self._stale & self.followed_keys, set()
                if stale:
                    keys = list(stale)
                    for key, (remote, members) in zip(keys, await self._read(keys), strict=True):
                        if key in self.followed_keys:
                            self.remote[key] = remote
                            self.remote_members[key] = members
                            self.counts.moved(key)
            except (RedisError, OSError):
                self._lost()

    async def _listen(self) -> None:
        """Hears which keys other processes changed; re-reads those
        followed here."""
        await listen(self.url, CHANNEL, self._heard, self._subscribed, self._lost)

    def _subscribed(self) -> None:
        # Messages may have been missed while away: re-read, renew.
        self._renew_due = True
        self._stale |= self.followed_keys
        self._wake.set()

    def _heard(self, message: bytes) -> None:
        for raw in orjson.loads(message):
            key = tuple(raw)
            if key in self.followed_keys:
                self._stale.add(key)
                self._wake.set()

    def _client_or_fail(self) -> redis.Redis:
        if self._client is None:
            raise RedisError("presence is stopped")
        return self._client

    async def _put(self, keys: list[Key]) -> None:
        self._client_or_fail()
        counts = [self.local.get(key, 0) for key in keys]
        roster = self.counts.roster
        members = [roster.blob(key) for key in keys]
        await self._scripts["put"](
            keys=_hashes(keys), args=[self.process_id, self.ttl_ms, *counts, *members]
        )
        for key, count in zip(keys, counts, strict=True):
            if count:
                self._written.add(key)
            else:
                self._written.discard(key)

    async def _read(self, keys: list[Key]) -> list[tuple[int, Names]]:
        """Per key: the other live processes' sum and members."""
        self._client_or_fail()
        rows = await self._scripts["totals"](keys=_hashes(keys), args=[self.process_id])
        limit = self.counts.roster.limit
        return [(int(row[0]), merge((parse(blob) for blob in row[1:]), limit)) for row in rows]

    def _reached(self) -> None:
        if not self.connected:
            self.connected = True
            self._stale |= self.followed_keys
            if self._outage_logged:
                log.info("presence reached Redis again: counting across processes")
            self._outage_logged = False

    def _lost(self) -> None:
        if not self._outage_logged:
            log.error("presence cannot reach Redis: counting this process's sockets only")
            self._outage_logged = True
        if self.connected:
            self.connected = False
            self.remote.clear()
            self.remote_members.clear()
            for key in self.followed_keys:
                self.counts.moved(key)
