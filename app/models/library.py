"""A user's private library: stories, coloured tags, and the links between.

One aggregate, so one module: every change is one transaction on the
owner's rows (`_changing`), which also gives its events their places in
the owner's `library` stream (app.models.stream); after the commit they go
to the owner's `library` channel in order (a change of the totals is
followed by `library:change`). Another user's story or tag does not exist for you:
every lookup is scoped by owner and answers NotFound otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import peewee

from app.clock import utcnow
from app.db import database
from app.events import (
    LibraryChanged,
    LibraryEvent,
    StoryCreated,
    StoryData,
    StoryDeleted,
    StoryTagged,
    StoryUntagged,
    StoryUpdated,
    TagCreated,
    TagData,
    TagDeleted,
    TagUpdated,
    library_topic,
    publish,
)
from app.ids import to_global_id
from app.models import library_requests, stream
from app.models.base import BaseModel
from app.models.errors import InvalidInput, NotFound
from app.models.urls import check_url, normalize_url
from app.models.user import User

TITLE_MAX = 300
DESCRIPTION_MAX = 5000


@contextmanager
def _changing(owner_id: int) -> Iterator[list[LibraryEvent]]:
    """One change of a library; the body adds its events to the list given.

    A transaction that begins by locking the owner's stream row, so that
    changes to one library run one after another, even on several
    processes: each sees the one before (its totals count it). Before the
    commit the events get their places in the owner's library stream (and
    history), so offsets follow commit order; after it they go to the
    owner's tabs, in order. A body that raises rolls back and publishes
    nothing."""
    topic = library_topic(owner_id)
    events: list[LibraryEvent] = []
    with database.atomic():
        stream.claim(topic)
        # Under the lock: a key that made its change before answers now.
        library_requests.answer_before(owner_id)
        yield events
        library_requests.record(owner_id, events)
        placed = stream.append(topic, events)
    for event in placed:
        publish(event)


def totals(owner_id: int) -> tuple[int, int]:
    """(stories, tags) in the owner's library; called inside the change's
    transaction so that the figures match the commit."""
    return Story.count_for(owner_id), Tag.count_for(owner_id)


# ---------------------------------------------------------------------- tags

NAME_MAX = 50
COLOR_PATTERN = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def check_tag_name(name: str) -> str:
    trimmed = name.strip()
    if not 1 <= len(trimmed) <= NAME_MAX:
        raise InvalidInput(f"A tag name is 1 to {NAME_MAX} characters; got {len(trimmed)}.")
    return trimmed


def check_color(color: str) -> str:
    if not COLOR_PATTERN.fullmatch(color):
        raise InvalidInput(f"A colour is a hex colour such as #1e90ff or #f80; got {color[:20]!r}.")
    return color.lower()


class Tag(BaseModel):
    id: peewee.AutoField[int]
    owner = peewee.ForeignKeyField(User, backref="tags", on_delete="CASCADE")
    owner_id: peewee.ForeignKeyField[int]
    name = peewee.CharField(max_length=NAME_MAX)
    #: The name folded to lower case: unique per owner.
    name_key = peewee.CharField(max_length=NAME_MAX)
    color = peewee.CharField(max_length=7)
    created_at = peewee.DateTimeField()

    class Meta:
        indexes = ((("owner", "name_key"), True),)

    def data(self) -> TagData:
        return TagData(self.id, self.owner_id, self.name, self.color, self.created_at)

    # ------------------------------------------------------------ reading

    @classmethod
    def find_owned(cls, owner_id: int, tag_id: int) -> Tag | None:
        return cls.get_or_none((cls.id == tag_id) & (cls.owner == owner_id))

    @classmethod
    def owned(cls, owner: User, tag_id: int) -> Tag:
        """The owner's tag; anyone else's does not exist for them."""
        tag = cls.find_owned(owner.id, tag_id)
        if tag is None:
            raise NotFound("No such tag in your library.")
        return tag

    @classmethod
    def owned_many(cls, owner: User, tag_ids: list[int]) -> list[Tag]:
        """All of these tags, or NotFound if any is not the owner's."""
        wanted = set(tag_ids)
        tags = list(cls.select().where(cls.id.in_(wanted) & (cls.owner == owner.id)))
        if len(tags) != len(wanted):
            raise NotFound("No such tag in your library.")
        return tags

    @classmethod
    def page(cls, owner: User, limit: int, after: tuple[str, int] | None = None) -> list[Tag]:
        """The owner's tags by name, keyset-paged after (name_key, id)."""
        query = cls.select().where(cls.owner == owner.id).order_by(cls.name_key, cls.id)
        if after is not None:
            key, tag_id = after
            query = query.where((cls.name_key > key) | ((cls.name_key == key) & (cls.id > tag_id)))
        return list(query.limit(limit))

    @classmethod
    def count_for(cls, owner_id: int) -> int:
        return cls.select().where(cls.owner == owner_id).count()

    # ----------------------------------------------------------- changing

    @classmethod
    def _check_free(cls, owner: User, name: str, other_than: int | None = None) -> None:
        query = cls.select().where((cls.owner == owner.id) & (cls.name_key == name.lower()))
        if other_than is not None:
            query = query.where(cls.id != other_than)
        if query.exists():
            raise InvalidInput(f"You already have a tag named {name!r} (names ignore case).")

    @classmethod
    def create_for(cls, owner: User, name: str, color: str) -> Tag:
        name, color = check_tag_name(name), check_color(color)
        with _changing(owner.id) as events:
            cls._check_free(owner, name)
            tag = cls.create(
                owner=owner, name=name, name_key=name.lower(), color=color, created_at=utcnow()
            )
            events.append(TagCreated(owner.id, tag.data()))
            events.append(LibraryChanged(owner.id, *totals(owner.id)))
        return tag

    def edit(self, changes: dict[str, Any]) -> Tag:
        """Applies `name` and/or `color`; publishes only a real change."""
        updates: dict[str, Any] = {}
        if changes.get("name") is not None:
            name = check_tag_name(changes["name"])
            if name != self.name:
                updates.update(name=name, name_key=name.lower())
        if changes.get("color") is not None:
            color = check_color(changes["color"])
            if color != self.color:
                updates["color"] = color
        if not updates:
            return self
        with _changing(self.owner_id) as events:
            if "name" in updates:
                Tag._check_free(self.owner, updates["name"], other_than=self.id)
            Tag.update(updates).where(Tag.id == self.id).execute()
            for key, value in updates.items():
                setattr(self, key, value)
            events.append(TagUpdated(self.owner_id, self.data()))
        return self

    def remove(self) -> None:
        """Deletes the tag, and with it every story's link to it."""
        with _changing(self.owner_id) as events:
            self.delete_instance(recursive=True)
            events.append(TagDeleted(self.owner_id, self.id))
            events.append(LibraryChanged(self.owner_id, *totals(self.owner_id)))


# ------------------------------------------------------------------- stories


def check_title(title: str) -> str:
    trimmed = title.strip()
    if not 1 <= len(trimmed) <= TITLE_MAX:
        raise InvalidInput(
            f"A title is 1 to {TITLE_MAX} characters after trimming; got {len(trimmed)}."
        )
    return trimmed


def check_description(description: str | None) -> str | None:
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise InvalidInput(
            f"A description may have at most {DESCRIPTION_MAX} characters; got {len(description)}."
        )
    return description


class Story(BaseModel):
    id: peewee.AutoField[int]
    owner = peewee.ForeignKeyField(User, backref="stories", on_delete="CASCADE")
    owner_id: peewee.ForeignKeyField[int]
    url = peewee.CharField(max_length=2048)
    #: The URL as `normalize_url` makes it: unique per owner.
    normalized_url = peewee.CharField(max_length=2048)
    title = peewee.CharField(max_length=TITLE_MAX)
    description = peewee.TextField(null=True)
    created_at = peewee.DateTimeField()
    updated_at = peewee.DateTimeField()
    #: The story's tags when a page loaded them for many stories at once
    #: (`tags_of`); not a column, and unset otherwise.
    prefetched_tags: list[Tag]

    class Meta:
        indexes = ((("owner", "normalized_url"), True), (("owner", "id"), False))

    def data(self) -> StoryData:
        return StoryData(
            self.id, self.owner_id, self.url, self.title, self.description, self.created_at
        )

    # ------------------------------------------------------------ reading

    @classmethod
    def find_owned(cls, owner_id: int, story_id: int) -> Story | None:
        return cls.get_or_none((cls.id == story_id) & (cls.owner == owner_id))

    @classmethod
    def owned(cls, owner: User, story_id: int) -> Story:
        """The owner's story; anyone else's does not exist for them."""
        story = cls.find_owned(owner.id, story_id)
        if story is None:
            raise NotFound("No such story in your library.")
        return story

    @classmethod
    def _filtered(cls, owner_id: int, tag_id: int | None) -> peewee.ModelSelect[Story]:
        query = cls.select().where(cls.owner == owner_id)
        if tag_id is not None:
            query = query.join(StoryTag).where(StoryTag.tag == tag_id)
        return query

    @classmethod
    def page(
        cls, owner_id: int, limit: int, before_id: int | None = None, tag_id: int | None = None
    ) -> list[Story]:
        """Newest first, keyset-paged below `before_id`, optionally by tag."""
        query = cls._filtered(owner_id, tag_id).order_by(cls.id.desc())
        if before_id is not None:
            query = query.where(cls.id < before_id)
        return list(query.limit(limit))

    @classmethod
    def count_for(cls, owner_id: int, tag_id: int | None = None) -> int:
        return cls._filtered(owner_id, tag_id).count()

    @staticmethod
    def tags_of(story_ids: Iterable[int]) -> dict[int, list[Tag]]:
        """Each story's tags by name, for many stories in one query."""
        found: dict[int, list[Tag]] = {story_id: [] for story_id in story_ids}
        if not found:
            return found
        links = (
            StoryTag.select(StoryTag.story, Tag)
            .join(Tag)
            .where(StoryTag.story.in_(list(found)))
            .order_by(Tag.name_key, Tag.id)
        )
        for link in links:
            found[link.story_id].append(link.tag)
        return found

    # ----------------------------------------------------------- changing

    @classmethod
    def create_for(cls, owner: User, url: str, title: str, description: str | None = None) -> Story:
        url, title = check_url(url), check_title(title)
        description = check_description(description)
        normalized = normalize_url(url)
        now = utcnow()
        with _changing(owner.id) as events:
            existing = cls.get_or_none((cls.owner == owner.id) & (cls.normalized_url == normalized))
            if existing is not None:
                raise InvalidInput(
                    "That URL is already in your library as story "
                    f"{to_global_id('Story', existing.id)} ({existing.title!r})."
                )
            story = cls.create(
                owner=owner,
                url=url,
                normalized_url=normalized,
                title=title,
                description=description,
                created_at=now,
                updated_at=now,
            )
            events.append(StoryCreated(owner.id, story.data()))
            events.append(LibraryChanged(owner.id, *totals(owner.id)))
        return story

    def edit(self, changes: dict[str, Any]) -> Story:
        """Applies `title` and/or `description` (None clears it); an absent
        key leaves the field alone. Publishes only a real change."""
        updates: dict[str, Any] = {}
        if "title" in changes:
            if changes["title"] is None:
                raise InvalidInput("A story needs a title; title cannot be null.")
            title = check_title(changes["title"])
            if title != self.title:
                updates["title"] = title
        if "description" in changes:
            description = check_description(changes["description"])
            if description != self.description:
                updates["description"] = description
        if not updates:
            return self
        updates["updated_at"] = utcnow()
        with _changing(self.owner_id) as events:
            Story.update(updates).where(Story.id == self.id).execute()
            for key, value in updates.items():
                setattr(self, key, value)
            events.append(StoryUpdated(self.owner_id, self.data()))
        return self

    def remove(self) -> None:
        """Deletes the story and its tag links."""
        with _changing(self.owner_id) as events:
            self.delete_instance(recursive=True)
            events.append(StoryDeleted(self.owner_id, self.id))
            events.append(LibraryChanged(self.owner_id, *totals(self.owner_id)))

    def attach(self, tags: list[Tag]) -> tuple[int, ...]:
        """Links these tags; returns (and publishes) only the new links."""
        with _changing(self.owner_id) as events:
            present = self._linked_ids()
            new = tuple(sorted({tag.id for tag in tags} - present))
            if new:
                rows = [{"story": self.id, "tag": tag_id} for tag_id in new]
                StoryTag.insert_many(rows).execute()
                events.append(StoryTagged(self.owner_id, self.id, new))
        return new

    def detach(self, tags: list[Tag]) -> tuple[int, ...]:
        """Unlinks these tags; returns (and publishes) only real removals."""
        with _changing(self.owner_id) as events:
            gone = tuple(sorted({tag.id for tag in tags} & self._linked_ids()))
            if gone:
                StoryTag.delete().where(
                    (StoryTag.story == self.id) & StoryTag.tag.in_(gone)
                ).execute()
                events.append(StoryUntagged(self.owner_id, self.id, gone))
        return gone

    def _linked_ids(self) -> set[int]:
        query = StoryTag.select(StoryTag.tag).where(StoryTag.story == self.id)
        return {link.tag_id for link in query}


class StoryTag(BaseModel):
    id: peewee.AutoField[int]
    story = peewee.ForeignKeyField(Story, backref="links", on_delete="CASCADE")
    story_id: peewee.ForeignKeyField[int]
    tag = peewee.ForeignKeyField(Tag, backref="links", on_delete="CASCADE")
    tag_id: peewee.ForeignKeyField[int]

    class Meta:
        indexes = ((("story", "tag"), True), (("tag",), False))


@dataclass(frozen=True, slots=True)
class Overview:
    """The first page of a library, with its tags and totals, for a page."""

    stories: list[Story]
    tags: list[Tag]
    total_stories: int
    total_tags: int


def overview(owner: User, limit: int = 100) -> Overview:
    stories = Story.page(owner.id, limit)
    tags = Story.tags_of(story.id for story in stories)
    for story in stories:
        story.prefetched_tags = tags[story.id]
    total_stories, total_tags = totals(owner.id)
    return Overview(stories, Tag.page(owner, limit), total_stories, total_tags)
