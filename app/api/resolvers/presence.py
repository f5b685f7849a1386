"""Presence members as GraphQL sees them: usernames become `Member`
objects, a cut list (None) is `members: null, truncated: true`, and a
user's connections become `Device`s (only ever on their own
`libraryPresence`).

The names come from app.realtime.presence through the context; nothing
here counts or stores anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLResolveInfo

from app.api.resolvers.base import Context
from app.api.resolvers.counters import CounterLike
from app.events import CounterPresenceChanged, TabsChanged, counter_presence_key
from app.realtime.devices import Device, parse_device


@dataclass(frozen=True, slots=True)
class Member:
    """A signed-in watcher (GraphQL `Member`)."""

    username: str


@dataclass(frozen=True, slots=True)
class Watching:
    """Who watches a counter now (GraphQL `Watching`)."""

    count: int
    members: list[Member] | None
    truncated: bool


def _members(names: tuple[str, ...] | None) -> list[Member] | None:
    return None if names is None else [Member(name) for name in names]


async def counter_watching(source: CounterLike, info: GraphQLResolveInfo) -> Watching:
    """Async, so that it runs on the loop (where presence lives) even when
    the rest of the query runs on the database thread."""
    context: Context = info.context
    if context.presence is None:
        return Watching(0, [], False)
    count, names = await context.presence.watching(counter_presence_key(source.name))
    return Watching(count, _members(names), names is None)


def presence_members(
    source: CounterPresenceChanged, _info: GraphQLResolveInfo
) -> list[Member] | None:
    return _members(source.members)


def presence_truncated(source: CounterPresenceChanged, _info: GraphQLResolveInfo) -> bool:
    return source.members is None


def presence_joined(source: CounterPresenceChanged, _info: GraphQLResolveInfo) -> list[Member]:
    return [Member(name) for name in source.joined]


def presence_left(source: CounterPresenceChanged, _info: GraphQLResolveInfo) -> list[Member]:
    return [Member(name) for name in source.left]


def _devices(members: tuple[str, ...]) -> list[Device]:
    return [parse_device(member) for member in members]


def library_devices(source: TabsChanged, _info: GraphQLResolveInfo) -> list[Device] | None:
    return None if source.devices is None else _devices(source.devices)


def library_joined(source: TabsChanged, _info: GraphQLResolveInfo) -> list[Device]:
    return _devices(source.joined)


def library_left(source: TabsChanged, _info: GraphQLResolveInfo) -> list[Device]:
    return _devices(source.left)
