"""The served schema: the contract's SDL with our resolvers bound to it.

`schema.graphql` is a copy of the shared contract; a test fails when the
two drift apart in a breaking way. Resolvers are bound by type and field
name below, so the SDL stays the single description of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
)

from app.api.resolvers import accounts, counters, follows, library, presence, root, subscriptions
from app.api.scalars import install_datetime

SDL_PATH = Path(__file__).with_name("schema.graphql")

Resolver = Callable[..., Any]

RESOLVERS: dict[str, dict[str, Resolver]] = {
    "Query": {
        "node": root.node,
        "viewer": root.viewer,
        "counter": counters.counter,
        "counters": counters.counters,
        "library": library.library,
        "following": follows.following,
    },
    "Mutation": {
        "signUp": accounts.sign_up,
        "signIn": accounts.sign_in,
        "signOut": accounts.sign_out,
        "incrementCounter": counters.increment,
        "decrementCounter": counters.decrement,
        "setCounterValue": counters.set_value,
        "resetCounter": counters.reset,
        "createStory": library.create_story,
        "updateStory": library.update_story,
        "deleteStory": library.delete_story,
        "createTag": library.create_tag,
        "updateTag": library.update_tag,
        "deleteTag": library.delete_tag,
        "tagStory": library.tag_story,
        "untagStory": library.untag_story,
        "followCounter": follows.follow_counter,
        "unfollowCounter": follows.unfollow_counter,
    },
    "Counter": {
        "id": counters.counter_id,
        "history": counters.counter_history,
        "watchers": counters.counter_watchers,
        "watching": presence.counter_watching,
        "followedByViewer": follows.followed_by_viewer,
    },
    "CounterPresence": {
        "members": presence.presence_members,
        "truncated": presence.presence_truncated,
        "joined": presence.presence_joined,
        "left": presence.presence_left,
    },
    "LibraryPresence": {
        "devices": presence.library_devices,
        "joined": presence.library_joined,
        "left": presence.library_left,
    },
    "CounterUpdateEvent": {"metadata": counters.counter_update_metadata},
    "User": {"id": root.user_id},
    "Library": {"stories": library.library_stories, "tags": library.library_tags},
    "Story": {"id": library.story_id, "tags": library.story_tags},
    "Tag": {"id": library.tag_id, "stories": library.tag_stories},
    "StoryDeleteEvent": {"deletedStoryId": library.deleted_story_id},
    "TagDeleteEvent": {"deletedTagId": library.deleted_tag_id},
    "StoryTagEvent": {"storyId": library.event_story_id, "tagIds": library.event_tag_ids},
    "StoryUntagEvent": {"storyId": library.event_story_id, "tagIds": library.event_tag_ids},
}

#: Subscription fields: (where the events come from, what each one resolves to).
SUBSCRIPTIONS: dict[str, tuple[Resolver, Resolver]] = {
    "counter": (subscriptions.subscribe_counter, subscriptions.event),
    "counters": (subscriptions.subscribe_counters, subscriptions.counter_activity),
    "channel": (subscriptions.subscribe_channel, subscriptions.event),
    "counterPresence": (subscriptions.subscribe_counter_presence, subscriptions.event),
    "libraryPresence": (subscriptions.subscribe_library_presence, subscriptions.event),
}


def build() -> GraphQLSchema:
    schema = build_schema(SDL_PATH.read_text())
    for type_name, fields in RESOLVERS.items():
        graphql_type = schema.get_type(type_name)
        assert isinstance(graphql_type, GraphQLObjectType), type_name
        for field_name, resolver in fields.items():
            graphql_type.fields[field_name].resolve = resolver
    assert schema.subscription_type is not None
    for field_name, (source, resolver) in SUBSCRIPTIONS.items():
        subscription_field = schema.subscription_type.fields[field_name]
        subscription_field.subscribe = source
        subscription_field.resolve = resolver
    for graphql_type in schema.type_map.values():
        if isinstance(graphql_type, GraphQLInterfaceType | GraphQLUnionType):
            graphql_type.resolve_type = root.resolve_type
    datetime_type = schema.get_type("DateTime")
    assert isinstance(datetime_type, GraphQLScalarType)
    install_datetime(datetime_type)
    return schema


@dataclass(frozen=True, slots=True)
class FieldSummary:
    """One field of a type (or member of a union), as the explorer lists it."""

    signature: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class TypeSummary:
    """One named type of the schema, as the explorer page lists it."""

    name: str
    kind: str
    description: str | None
    fields: list[FieldSummary]


def type_summaries(schema: GraphQLSchema) -> list[TypeSummary]:
    """The schema's own types, root types first, for people to read."""
    roots = ["Query", "Mutation", "Subscription"]
    summaries = []
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Boolean", "ID", "Float"):
            continue
        fields: list[FieldSummary] = []
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                args = ", ".join(f"{a}: {arg.type}" for a, arg in field.args.items())
                signature = f"{field_name}{f'({args})' if args else ''}: {field.type}"
                fields.append(FieldSummary(signature, field.description))
        elif isinstance(graphql_type, GraphQLUnionType):
            fields = [FieldSummary(str(member)) for member in graphql_type.types]
        kind = type(graphql_type).__name__.removeprefix("GraphQL").removesuffix("Type").lower()
        summaries.append(TypeSummary(name, kind, graphql_type.description, fields))
    return sorted(
        summaries,
        key=lambda t: (t.name not in roots, roots.index(t.name) if t.name in roots else 0, t.name),
    )
