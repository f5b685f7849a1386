"""Subscription fields: where each one's events come from.

`subscribe` checks the arguments and the viewer and names the topic (a
`TopicSource`); `resolve` maps each event to the field's value, after
which graphql-core executes the client's selection on it, once per group
of alike subscribers (app.api.live).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from app.api.live import TopicSource
from app.api.resolvers.base import Context
from app.events import (
    USER_CHANNELS,
    Topic,
    counter_presence_key,
    counter_topic,
    presence_changed,
    presence_topic,
    user_presence_key,
    user_topic,
)
from app.models.counter import check_name
from app.models.errors import InvalidInput, Unauthenticated
from app.realtime.counter_activity import ALL_COUNTERS, CounterActivity

CHANNELS = USER_CHANNELS


def subscribe_counter(_root: None, _info: GraphQLResolveInfo, name: str) -> TopicSource:
    # A running counter subscription is one of the counter's watchers.
    name = check_name(name)
    return TopicSource(counter_topic(name), counts=counter_presence_key(name))


def subscribe_counters(_root: None, _info: GraphQLResolveInfo) -> TopicSource:
    # Listening to every counter does not make one a watcher of each.
    return TopicSource(ALL_COUNTERS)


def counter_activity(source: CounterActivity, _info: GraphQLResolveInfo) -> Any:
    """The change itself: the same CounterUpdateEvent as `counter` sends."""
    return source.change


def _presence_source(info: GraphQLResolveInfo, key: Topic) -> TopicSource:
    """The key's presence notices, the current total first (once known)."""
    context: Context = info.context
    presence = context.presence
    assert presence is not None, "the context carries presence"

    def initial() -> object | None:
        total = presence.current(key)
        return None if total is None else presence_changed(key, total, presence.members(key))

    return TopicSource(presence_topic(key), initial=initial)


def subscribe_counter_presence(_root: None, info: GraphQLResolveInfo, name: str) -> TopicSource:
    # Listening to presence does not make one a watcher: nothing is counted.
    return _presence_source(info, counter_presence_key(check_name(name)))


def subscribe_library_presence(_root: None, info: GraphQLResolveInfo) -> TopicSource:
    context: Context = info.context
    if context.viewer is None:
        raise Unauthenticated(
            "libraryPresence needs a signed-in connection: send your token as "
            "connection_init payload {token}, or connect with a session cookie."
        )
    return _presence_source(info, user_presence_key(context.viewer.id))


def subscribe_channel(_root: None, info: GraphQLResolveInfo, name: str) -> TopicSource:
    if name not in CHANNELS:
        known = ", ".join(CHANNELS)
        raise InvalidInput(f"There is no channel {name!r}; the channels are: {known}.")
    context: Context = info.context
    if context.viewer is None:
        raise Unauthenticated(
            f"The {name!r} channel needs a signed-in connection: send your token as "
            "connection_init payload {token}, or connect with a session cookie."
        )
    return TopicSource(user_topic(context.viewer.id, name))


def event(source: Any, _info: GraphQLResolveInfo, **_args: Any) -> Any:
    """Each event is the field's value as it is."""
    return source
