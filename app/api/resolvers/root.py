"""Root fields that span features: `node`, `viewer`, and type resolution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLAbstractType, GraphQLResolveInfo

from app import events
from app.api.resolvers import library
from app.api.resolvers.base import Context
from app.events import Actor, CounterSnapshot
from app.ids import from_global_id, to_global_id
from app.models.counter import Counter
from app.models.errors import InvalidInput
from app.models.library import Story, Tag
from app.models.user import User


def _counter(key: str, _context: Context) -> Counter | None:
    try:
        return Counter.lookup(key)
    except InvalidInput:
        return None


def _user(key: str, _context: Context) -> User | None:
    return User.get_or_none(User.id == int(key)) if key.isdigit() else None


#: Global id type name -> loader of that type's object for the viewer.
NODE_LOADERS: dict[str, Callable[[str, Context], object | None]] = {
    "Counter": _counter,
    "User": _user,
    "Story": library.load_story,
    "Tag": library.load_tag,
}


def node(_root: None, info: GraphQLResolveInfo, id: str) -> object | None:
    decoded = from_global_id(id)
    if decoded is None:
        raise InvalidInput(f"{id!r} is not an id this server made.")
    type_name, key = decoded
    loader = NODE_LOADERS.get(type_name)
    return loader(key, info.context) if loader is not None else None


def viewer(_root: None, info: GraphQLResolveInfo) -> User | None:
    context: Context = info.context
    return context.viewer


def user_id(source: User | Actor, _info: GraphQLResolveInfo) -> str:
    return to_global_id("User", source.id)


#: Python class -> GraphQL type name, for interfaces and unions.
TYPE_NAMES: dict[type, str] = {
    Counter: "Counter",
    CounterSnapshot: "Counter",
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
}


def resolve_type(value: Any, _info: GraphQLResolveInfo, _type: GraphQLAbstractType) -> str | None:
    return TYPE_NAMES.get(type(value))
