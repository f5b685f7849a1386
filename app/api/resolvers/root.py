"""Root fields that span features: `node`, `viewer`, and type resolution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLAbstractType, GraphQLResolveInfo

from app import events
from app.api.resolvers import library
from app.api.resolvers.base import Context
from app.api.resolvers.library import not_an_id
from app.events import Actor, CounterSnapshot
from app.ids import from_global_id, row_key, to_global_id
from app.models.counter import Counter, CounterAsOf
from app.models.errors import InvalidInput
from app.models.library import Story, Tag
from app.models.user import User


def _counter(name: str) -> Counter | None:
    try:
        return Counter.lookup(name)
    except InvalidInput:
        return None


def _user(key: int, context: Context) -> User | None:
    """Only the viewer themself: a username is not for anyone who can count
    ids, just as a story is not for anyone but its owner."""
    viewer = context.viewer
    return viewer if viewer is not None and viewer.id == key else None


#: Global id type name -> loader of that row for the viewer (None: not theirs).
ROW_LOADERS: dict[str, Callable[[int, Context], object | None]] = {
    "User": _user,
    "Story": library.load_story,
    "Tag": library.load_tag,
}


def node(_root: None, info: GraphQLResolveInfo, id: str) -> object | None:
    decoded = from_global_id(id)
    if decoded is None:
        raise not_an_id(id)
    type_name, key = decoded
    if type_name == "Counter":  # public, and keyed by name
        return _counter(key)
    loader = ROW_LOADERS.get(type_name)
    if loader is None:
        return None
    row = row_key(key)
    if row is None:
        raise not_an_id(id)
    return loader(row, info.context)


def viewer(_root: None, info: GraphQLResolveInfo) -> User | None:
    context: Context = info.context
    return context.viewer


def user_id(source: User | Actor, _info: GraphQLResolveInfo) -> str:
    return to_global_id("User", source.id)


#: Python class -> GraphQL type name, for interfaces and unions.
TYPE_NAMES: dict[type, str] = {
    Counter: "Counter",
    CounterSnapshot: "Counter",
    CounterAsOf: "Counter",
    User: "User",
    Actor: "User",
    Story: "Story",
    events.StoryData: "Story",
    Tag: "Tag",
    events.TagData: "Tag",
    events.StoryCreated: "StoryCreateEvent",
    events.StoryUpdated: "StoryUpdateEvent",
    events.StoryDeleted: "StoryDeleteEvent",
    events.TagCreated: "TagCreateEvent",
    events.TagUpdated: "TagUpdateEvent",
    events.TagDeleted: "TagDeleteEvent",
    events.StoryTagged: "StoryTagEvent",
    events.StoryUntagged: "StoryUntagEvent",
    events.LibraryChanged: "LibraryChangeEvent",
    events.FollowedCounterChanged: "FollowedCounterChangeEvent",
}


def resolve_type(value: Any, _info: GraphQLResolveInfo, _type: GraphQLAbstractType) -> str | None:
    return TYPE_NAMES.get(type(value))
