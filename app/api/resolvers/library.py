"""The library: the viewer's stories and tags, and every change to them.

Every resolver works on the viewer's own rows; ids of anyone else's are
NOT_FOUND, exactly like ids that never existed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from graphql import GraphQLResolveInfo

from app.api.pagination import (
    check_first,
    connection,
    cursor_row_key,
    decode_cursor,
    encode_cursor,
)
from app.api.resolvers.base import Context
from app.events import StoryData, TagData
from app.ids import from_global_id, row_key, to_global_id
from app.models import library_requests, request_keys
from app.models.errors import InvalidInput, NotFound, Unauthenticated
from app.models.library import Story, Tag
from app.models.user import User

StoryLike = Story | StoryData
TagLike = Tag | TagData


T = TypeVar("T")
#: A story or a tag: the library's two kinds, owned, edited and removed alike.
Item = TypeVar("Item", Story, Tag)


def viewer_of(info: GraphQLResolveInfo) -> User:
    context: Context = info.context
    if context.viewer is None:
        raise Unauthenticated("The library needs a signed-in user; sign in first.")
    return context.viewer


def not_an_id(global_id: str) -> InvalidInput:
    return InvalidInput(f"{global_id[:80]!r} is not an id this server made.")


def decode_id(global_id: str, type_name: str) -> int:
    """The key of a `type_name` global id; NotFound for another type, and
    BAD_USER_INPUT for an id whose key no row of ours could have."""
    decoded = from_global_id(global_id)
    if decoded is None:
        raise not_an_id(global_id)
    found_type, raw = decoded
    if found_type != type_name:  # a counter's id, say: ours, but not a story
        raise NotFound(f"No such {type_name.lower()} in your library.")
    key = row_key(raw)
    if key is None:
        raise not_an_id(global_id)
    return key


def _before(after: str | None) -> int | None:
    if after is None:
        return None
    (raw,) = decode_cursor(after, 1)
    return cursor_row_key(after, raw)


def _story_page(owner_id: int, first: int, after: str | None, tag_id: int | None) -> Any:
    check_first(first)
    rows = Story.page(owner_id, first + 1, _before(after), tag_id)
    tags = Story.tags_of(story.id for story in rows[:first])
    for story in rows[:first]:
        story.prefetched_tags = tags[story.id]
    return connection(
        rows,
        first,
        after,
        lambda story: encode_cursor(story.id),
        lambda: Story.count_for(owner_id, tag_id),
    )


# ------------------------------------------------------------------ queries


def library(_root: None, info: GraphQLResolveInfo) -> User:
    return viewer_of(info)


def library_stories(
    owner: User,
    _info: GraphQLResolveInfo,
    first: int,
    after: str | None = None,
    tagId: str | None = None,
) -> Any:
    tag_id = None
    if tagId is not None:
        tag_id = Tag.owned(owner, decode_id(tagId, "Tag")).id
    return _story_page(owner.id, first, after, tag_id)


def library_tags(
    owner: User, _info: GraphQLResolveInfo, first: int, after: str | None = None
) -> Any:
    check_first(first)
    position = None
    if after is not None:
        key, raw_id = decode_cursor(after, 2)
        position = (key, cursor_row_key(after, raw_id))
    rows = Tag.page(owner, first + 1, position)
    return connection(
        rows,
        first,
        after,
        lambda tag: encode_cursor(tag.name_key, tag.id),
        lambda: Tag.count_for(owner.id),
    )


def story_id(source: StoryLike, _info: GraphQLResolveInfo) -> str:
    return to_global_id("Story", source.id)


def story_tags(source: StoryLike, _info: GraphQLResolveInfo) -> list[Tag]:
    prefetched = getattr(source, "prefetched_tags", None)
    if prefetched is not None:
        return prefetched
    return Story.tags_of([source.id])[source.id]


def tag_id(source: TagLike, _info: GraphQLResolveInfo) -> str:
    return to_global_id("Tag", source.id)


def tag_stories(
    source: TagLike, _info: GraphQLResolveInfo, first: int, after: str | None = None
) -> Any:
    return _story_page(source.owner_id, first, after, source.id)


# ---------------------------------------------------------------- mutations


# Each takes an optional `clientMutationId`: with it, a retry gets the first
# answer (app.models.library_requests). The key is looked for before the
# subject is, so a retried delete is answered, not told it is gone; and
# again when the subject is not found, in case the key's first attempt
# removed it meanwhile (the key is kept in that change's transaction).


def _once(
    info: GraphQLResolveInfo,
    key: str | None,
    operation: str,
    arguments: dict[str, Any],
    change: Callable[[], T],
    recall: Callable[[str], T],
) -> T:
    if key is None:
        return change()
    token = library_requests.asking(key, request_keys.digest(operation, arguments))
    owner_id = viewer_of(info).id
    try:
        library_requests.answer_before(owner_id)
        try:
            return change()
        except NotFound:
            # Gone, perhaps by this key's first attempt, committed (with its
            # key) between the look above and the change's own lookup of its
            # subject: a retry of a delete racing it on another process.
            library_requests.answer_before(owner_id)
            raise
    except library_requests.Answered as before:
        return recall(before.answer)
    finally:
        library_requests.done(token)


def _owned(info: GraphQLResolveInfo, model: type[Item], row_id: int) -> Item:
    return model.owned(viewer_of(info), row_id)


def _update(
    info: GraphQLResolveInfo,
    model: type[Item],
    id: str,
    key: str | None,
    changes: dict[str, Any],
) -> Item:
    """updateStory and updateTag: edit one of the viewer's stories or tags."""
    row_id = decode_id(id, model.__name__)
    return _once(
        info,
        key,
        f"update{model.__name__}",
        {"id": id, **changes},
        lambda: _owned(info, model, row_id).edit(changes),
        lambda _made: _owned(info, model, row_id),
    )


def _delete(info: GraphQLResolveInfo, model: type[Item], id: str, key: str | None) -> str:
    """deleteStory and deleteTag: they answer the id they removed."""
    row_id = decode_id(id, model.__name__)

    def change() -> str:
        _owned(info, model, row_id).remove()
        return id

    return _once(info, key, f"delete{model.__name__}", {"id": id}, change, lambda _made: id)


def create_story(
    _root: None,
    info: GraphQLResolveInfo,
    url: str,
    title: str,
    description: str | None = None,
    clientMutationId: str | None = None,
) -> Story:
    return _once(
        info,
        clientMutationId,
        "createStory",
        {"url": url, "title": title, "description": description},
        lambda: Story.create_for(viewer_of(info), url, title, description),
        lambda made: _owned(info, Story, int(made)),
    )


def update_story(
    _root: None,
    info: GraphQLResolveInfo,
    id: str,
    clientMutationId: str | None = None,
    **changes: Any,
) -> Story:
    return _update(info, Story, id, clientMutationId, changes)


def delete_story(
    _root: None, info: GraphQLResolveInfo, id: str, clientMutationId: str | None = None
) -> str:
    return _delete(info, Story, id, clientMutationId)


def create_tag(
    _root: None,
    info: GraphQLResolveInfo,
    name: str,
    color: str,
    clientMutationId: str | None = None,
) -> Tag:
    return _once(
        info,
        clientMutationId,
        "createTag",
        {"name": name, "color": color},
        lambda: Tag.create_for(viewer_of(info), name, color),
        lambda made: _owned(info, Tag, int(made)),
    )


def update_tag(
    _root: None,
    info: GraphQLResolveInfo,
    id: str,
    clientMutationId: str | None = None,
    **changes: Any,
) -> Tag:
    return _update(info, Tag, id, clientMutationId, changes)


def delete_tag(
    _root: None, info: GraphQLResolveInfo, id: str, clientMutationId: str | None = None
) -> str:
    return _delete(info, Tag, id, clientMutationId)


def _retag(
    info: GraphQLResolveInfo, operation: str, story_id: str, tag_ids: list[str], key: str | None
) -> Story:
    """tagStory and untagStory: attach or detach the viewer's tags."""

    def change() -> Story:
        owner = viewer_of(info)
        story = Story.owned(owner, decode_id(story_id, "Story"))
        tags = Tag.owned_many(owner, [decode_id(tag_id, "Tag") for tag_id in tag_ids])
        if operation == "tagStory":
            story.attach(tags)
        else:
            story.detach(tags)
        return story

    return _once(
        info,
        key,
        operation,
        {"storyId": story_id, "tagIds": tag_ids},
        change,
        lambda _made: _owned(info, Story, decode_id(story_id, "Story")),
    )


def tag_story(
    _root: None,
    info: GraphQLResolveInfo,
    storyId: str,
    tagIds: list[str],
    clientMutationId: str | None = None,
) -> Story:
    return _retag(info, "tagStory", storyId, tagIds, clientMutationId)


def untag_story(
    _root: None,
    info: GraphQLResolveInfo,
    storyId: str,
    tagIds: list[str],
    clientMutationId: str | None = None,
) -> Story:
    return _retag(info, "untagStory", storyId, tagIds, clientMutationId)


# ------------------------------------------------------------------- events


def deleted_story_id(event: Any, _info: GraphQLResolveInfo) -> str:
    return to_global_id("Story", event.story_id)


def deleted_tag_id(event: Any, _info: GraphQLResolveInfo) -> str:
    return to_global_id("Tag", event.tag_id)


def event_story_id(event: Any, _info: GraphQLResolveInfo) -> str:
    return to_global_id("Story", event.story_id)


def event_tag_ids(event: Any, _info: GraphQLResolveInfo) -> list[str]:
    return [to_global_id("Tag", tag) for tag in event.tag_ids]


# --------------------------------------------------------------------- node


def load_story(key: int, context: Context) -> Story | None:
    if context.viewer is None:
        return None
    return Story.find_owned(context.viewer.id, key)


def load_tag(key: int, context: Context) -> Tag | None:
    if context.viewer is None:
        return None
    return Tag.find_owned(context.viewer.id, key)
