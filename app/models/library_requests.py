"""Exactly-once library changes: a change sent with a key of the client's
own happens once; a retry with the same key gets the first answer.

The resolver names the request (`asking`) around the model call; the
library's one change path (`app.models.library._changing`) looks the key
up right after it takes the owner's stream lock, which serialises every
change of one library across processes, so two retries racing cannot both
apply; and it records the key in the change's own transaction, so a change
that was acknowledged has its key kept. The request travels in a context
variable rather than through every model method's arguments: it is set and
reset around one call, in the thread that makes the change.

What is kept as the answer is the id a create made (the one thing a retry
cannot know otherwise); the other changes name their subject in their
arguments.

A key answers for the window of app.models.request_keys from its
`created_at`; past it the key is treated as never seen, and the change it
then makes takes the row over (`record`). `forget` deletes the rows past
their window, a batch at a time, so the table holds about one window's keys.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import datetime

import peewee

from app.clock import utcnow
from app.events import LibraryEvent, StoryCreated, TagCreated
from app.models import request_keys
from app.models.base import BaseModel
from app.models.errors import InvalidInput
from app.models.request_keys import check_request_key
from app.models.user import User


@dataclass(frozen=True, slots=True)
class Request:
    key: str
    #: What the change asked for (its mutation and arguments), digested.
    asked: str


class Answered(Exception):
    """This key made its change before: `answer` is what that change kept."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


_request: ContextVar[Request | None] = ContextVar("library_request", default=None)


def asking(key: str, asked: str) -> Token[Request | None]:
    """Names the request of the change about to be made in this context."""
    return _request.set(Request(check_request_key(key), asked))


def done(token: Token[Request | None]) -> None:
    _request.reset(token)


class LibraryRequest(BaseModel):
    id: peewee.AutoField[int]
    owner = peewee.ForeignKeyField(User, on_delete="CASCADE", index=False)
    owner_id: peewee.ForeignKeyField[int]
    key = peewee.CharField(max_length=100)
    asked = peewee.CharField(max_length=64)
    answer = peewee.CharField(max_length=32)
    #: When the key made its change: its window runs from here. Indexed,
    #: for `forget` (migration 0011).
    created_at = peewee.DateTimeField()

    class Meta:
        indexes = ((("owner", "key"), True),)


def answer_before(owner_id: int) -> None:
    """Raises `Answered` if this context's key made its change before;
    refuses the key if it was used for another change."""
    request = _request.get()
    if request is None:
        return
    row = LibraryRequest.get_or_none(
        (LibraryRequest.owner == owner_id) & (LibraryRequest.key == request.key)
    )
    if row is None or request_keys.forgotten(row.created_at, utcnow()):
        return
    if row.asked != request.asked:
        raise InvalidInput(
            f"The request key {request.key!r} was already used for another change of "
            "your library; nothing was changed. Use a new key for a new change."
        )
    raise Answered(row.answer)


def record(owner_id: int, events: list[LibraryEvent]) -> None:
    """Keeps this context's key with the change just made (in its
    transaction). A row the key left past its window, if still stored, is
    taken over in the same statement: `answer_before` found it forgotten
    under the same lock."""
    request = _request.get()
    if request is None:
        return
    made = next(
        (
            str(event.story.id if isinstance(event, StoryCreated) else event.tag.id)
            for event in events
            if isinstance(event, StoryCreated | TagCreated)
        ),
        "",
    )
    LibraryRequest.insert(
        owner=owner_id, key=request.key, asked=request.asked, answer=made, created_at=utcnow()
    ).on_conflict(
        conflict_target=[LibraryRequest.owner, LibraryRequest.key],
        preserve=[LibraryRequest.asked, LibraryRequest.answer, LibraryRequest.created_at],
    ).execute()


def forget(before: datetime, limit: int) -> int:
    """Deletes at most `limit` keys made at or before `before` (past their
    window); returns how many. A range of the index on `created_at`
    (migration 0011), in no order, as `CounterOperation.forget_request_keys`."""
    expired = request_keys.skip_locked(
        LibraryRequest.select(LibraryRequest.id)
        .where(LibraryRequest.created_at <= before)
        .limit(limit)
    )
    return LibraryRequest.delete().where(LibraryRequest.id.in_(expired)).execute()
