"""Changes as typed events, and the one seam from models to realtime.

Models describe what changed with the dataclasses below and hand them to
`publish` after their transaction commits, so a rolled-back change never
reaches a client. What happens next is not their business: `make_app`
installs the realtime registry (or, in tests, anything with the same
signature) with `set_publisher`. This module imports neither Tornado nor
the models, so every layer may depend on it.

A failed broadcast is logged and swallowed: the change it describes is
already committed and acknowledged, and must not be reported as failed.

Threads: the publisher runs on the event loop's thread. A change made on
another thread (the database thread, app.db) is handed over with the
`hand_over` given to `set_publisher` (Tornado's `add_callback`, which is
thread-safe and keeps the order of the calls), so events from one thread
reach subscribers in the order they were committed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

log = logging.getLogger(__name__)

#: Where an event goes: ("counter", name) or ("user", user_id, channel).
Topic = tuple[str, ...]


def counter_topic(name: str) -> Topic:
    return ("counter", name)


def user_topic(user_id: int, channel: str) -> Topic:
    return ("user", str(user_id), channel)


#: The per-user channels; each is a stream of its own, kept for resuming.
USER_CHANNELS = ("library", "notifications")


def has_history(topic: Topic) -> bool:
    """Whether the topic's events are a stream kept for clients that
    resume: a counter's, and each of a user's channels."""
    return topic[0] == "counter" or (topic[0] == "user" and topic[-1] in USER_CHANNELS)


def stream_name(topic: Topic) -> str:
    """The name a topic's history is kept under: "counter:hits", "user:7:library"."""
    return ":".join(topic)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: enough to show them, nothing private."""

    id: int
    username: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CounterSnapshot:
    """A counter's stored state right after a change."""

    id: int | None
    name: str
    value: int
    created_at: datetime | None
    updated_at: datetime | None
    operation_count: int


@dataclass(frozen=True, slots=True)
class CounterChanged:
    """Fires once per committed counter operation (increment, decrement,
    setValue, reset), to every watcher of that counter."""

    type: str
    value: int
    previous_value: int
    counter: CounterSnapshot
    timestamp: datetime
    actor: Actor | None
    #: Which history the offset belongs to (see `StreamEvent`); set when the
    #: event is recorded, so the same change may travel without it.
    epoch: str = field(default="", kw_only=True)

    @property
    def topic(self) -> Topic:
        return counter_topic(self.counter.name)

    @property
    def offset(self) -> int:
        """This change's place in the counter's stream: its operation count,
        which rises by exactly one per change, under the row lock."""
        return self.counter.operation_count


def user_sockets_topic(user_id: int) -> Topic:
    """Every open socket of one user: counted against the per-user limit."""
    return ("user-sockets", str(user_id))


def credential_topic(credential_id: int) -> Topic:
    return ("credential", str(credential_id))


@dataclass(frozen=True, slots=True)
class CredentialRevoked:
    """Fires when a user signs out: every socket opened with that credential
    must close."""

    credential_id: int
    user_id: int

    @property
    def topic(self) -> Topic:
        return credential_topic(self.credential_id)


class Event(Protocol):
    @property
    def topic(self) -> Topic: ...


class StreamEvent(Protocol):
    """An event with a place in its topic's stream, so that a client that
    missed it can ask for it again (app.realtime.history).

    `offset` rises by exactly one per event of the topic, in commit order:
    it is assigned inside the change's transaction. `epoch` names the
    history the offset was recorded in; when that history is lost the epoch
    changes, so a position from before is never trusted.
    """

    @property
    def topic(self) -> Topic: ...

    @property
    def offset(self) -> int: ...

    @property
    def epoch(self) -> str: ...


def position_of(event: object) -> int | None:
    """The event's offset, or None for events outside any stream."""
    return getattr(event, "offset", None)


Publisher = Callable[[Topic, object], None]
#: Where the events of one committed batch go together, in commit order.
BatchPublisher = Callable[[Sequence["Event"]], None]


def _drop(topic: Topic, event: object) -> None:
    """The publisher before any is installed: nobody is listening."""


_publisher: Publisher = _drop
_batch_publisher: BatchPublisher | None = None
_hand_over: Callable[..., None] | None = None
_publisher_thread: int | None = None


def set_publisher(
    publisher: Publisher | None,
    hand_over: Callable[..., None] | None = None,
    batch_publisher: BatchPublisher | None = None,
) -> None:
    """Installs where events go, from the thread that will run it; None
    restores the silent default. `hand_over(fn, *args)` must schedule a
    call on that thread (for changes made on other threads).
    `batch_publisher`, if given, takes the events of one committed batch
    at once (`publish_all`), so that it can write each socket once."""
    global _publisher, _batch_publisher, _hand_over, _publisher_thread
    _publisher = publisher or _drop
    _batch_publisher = batch_publisher if publisher is not None else None
    _hand_over = hand_over
    _publisher_thread = threading.get_ident()


class _Gate(threading.local):
    held: list[Event] | None = None


_gate = _Gate()


def hold(into: list[Event] | None) -> None:
    """While `into` is a list, events published on this thread are appended
    to it instead of delivered: the output gate of app.group_commit, which
    publishes them (`publish_all`) once the changes they describe are
    durable. None delivers again."""
    _gate.held = into


def publish(event: Event) -> None:
    """Hands a committed change to the installed publisher (or to the open
    batch's held events, see `hold`); never raises."""
    held = _gate.held
    if held is not None:
        held.append(event)
        return
    if _hand_over is not None and threading.get_ident() != _publisher_thread:
        _hand_over(_deliver, _publisher, event)
    else:
        _deliver(_publisher, event)


def publish_all(batch: Sequence[Event]) -> None:
    """Hands the events of one committed batch on, in commit order, as one
    delivery where the publisher takes batches; never raises."""
    if not batch:
        return
    if _hand_over is not None and threading.get_ident() != _publisher_thread:
        _hand_over(_deliver_all, batch)
    else:
        _deliver_all(batch)


def _deliver_all(batch: Sequence[Event]) -> None:
    if _batch_publisher is None:
        for event in batch:
            _deliver(_publisher, event)
        return
    try:
        _batch_publisher(batch)
    except Exception:
        log.exception("broadcast of %d events failed; the changes themselves are saved", len(batch))


def _deliver(publisher: Publisher, event: Event) -> None:
    try:
        publisher(event.topic, event)
    except Exception:
        log.exception("broadcast of %s failed; the change itself is saved", event)


# ------------------------------------------------------------------ library
# Every change to a user's library, to that user's "library" channel only.


def library_topic(owner_id: int) -> Topic:
    return user_topic(owner_id, "library")


@dataclass(frozen=True, slots=True)
class StoryData:
    """A story as it was right after a change."""

    id: int
    owner_id: int
    url: str
    title: str
    description: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TagData:
    """A tag as it was right after a change."""

    id: int
    owner_id: int
    name: str
    color: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LibraryEvent:
    owner_id: int
    #: Place in the owner's library stream, assigned in the change's
    #: transaction (see `StreamEvent`), and the history it was recorded in.
    offset: int = field(default=0, kw_only=True)
    epoch: str = field(default="", kw_only=True)

    @property
    def topic(self) -> Topic:
        return library_topic(self.owner_id)


@dataclass(frozen=True, slots=True)
class StoryCreated(LibraryEvent):
    """Fires when a story is added; `library:change` follows."""

    story: StoryData
    type: str = "story:create"


@dataclass(frozen=True, slots=True)
class StoryUpdated(LibraryEvent):
    """Fires when a story's title or description actually changed."""

    story: StoryData
    type: str = "story:update"


@dataclass(frozen=True, slots=True)
class StoryDeleted(LibraryEvent):
    """Fires when a story (and its tag links) is removed; `library:change` follows."""

    story_id: int
    type: str = "story:delete"


@dataclass(frozen=True, slots=True)
class TagCreated(LibraryEvent):
    """Fires when a tag is created; `library:change` follows."""

    tag: TagData
    type: str = "tag:create"


@dataclass(frozen=True, slots=True)
class TagUpdated(LibraryEvent):
    """Fires when a tag's name or colour actually changed."""

    tag: TagData
    type: str = "tag:update"


@dataclass(frozen=True, slots=True)
class TagDeleted(LibraryEvent):
    """Fires when a tag is removed (from every story too); `library:change` follows."""

    tag_id: int
    type: str = "tag:delete"


@dataclass(frozen=True, slots=True)
class StoryTagged(LibraryEvent):
    """Fires when tags were newly attached to a story; lists only those."""

    story_id: int
    tag_ids: tuple[int, ...]
    type: str = "story:tag"


@dataclass(frozen=True, slots=True)
class StoryUntagged(LibraryEvent):
    """Fires when tags were actually detached from a story; lists only those."""

    story_id: int
    tag_ids: tuple[int, ...]
    type: str = "story:untag"


@dataclass(frozen=True, slots=True)
class LibraryChanged(LibraryEvent):
    """Follows every change of the library's totals."""

    total_stories: int
    total_tags: int
    type: str = "library:change"


# ------------------------------------------------------------ notifications
# What happened elsewhere that concerns a user, to that user's
# "notifications" channel only (app.models.notifications).


def notifications_topic(user_id: int) -> Topic:
    return user_topic(user_id, "notifications")


@dataclass(frozen=True, slots=True)
class FollowedCounterChanged:
    """Fires for each follower of a counter when someone else (another user
    or an anonymous visitor) changed it; never for the follower's own
    changes."""

    user_id: int
    counter_name: str
    #: increment | decrement | setValue | reset
    operation: str
    value: int
    previous_value: int
    actor: Actor | None
    timestamp: datetime
    type: str = "counter:change"
    #: Place in the follower's notifications stream (see `StreamEvent`).
    offset: int = field(default=0, kw_only=True)
    epoch: str = field(default="", kw_only=True)

    @property
    def topic(self) -> Topic:
        return notifications_topic(self.user_id)


# ----------------------------------------------------------------- presence
# How many watch a counter, and how many tabs a user has open, across
# processes (app.realtime.presence counts; these carry the throttled
# notices to listeners, on topics of their own: never the counter's or the
# library channel's).


def counter_presence_key(name: str) -> Topic:
    """What counter sockets and `counter` subscriptions count towards."""
    return ("counter", name)


def user_presence_key(user_id: int) -> Topic:
    """What every authenticated socket of one user counts towards (a tab)."""
    return ("user", str(user_id))


def presence_topic(key: Topic) -> Topic:
    return ("presence", *key)


@dataclass(frozen=True, slots=True)
class CounterPresenceChanged:
    """Fires, at most a few times a second, when the number of sockets and
    subscriptions watching a counter moves, or who of them is signed in."""

    name: str
    watchers: int
    #: The signed-in usernames watching, sorted; None when more than the
    #: bound (app.realtime.members.LIMIT) watch and only the count is told.
    members: tuple[str, ...] | None = ()
    #: Who came and who went since the previous notice (empty while cut).
    joined: tuple[str, ...] = ()
    left: tuple[str, ...] = ()

    @property
    def topic(self) -> Topic:
        return presence_topic(counter_presence_key(self.name))


@dataclass(frozen=True, slots=True)
class TabsChanged:
    """Fires, at most a few times a second, when the number of a user's open
    authenticated sockets (tabs) moves; to that user only."""

    user_id: int
    tabs: int
    #: The user's open connections as presence members
    #: (app.realtime.devices), oldest first; None past the bound.
    devices: tuple[str, ...] | None = ()
    #: Which connections opened and closed since the previous notice.
    joined: tuple[str, ...] = ()
    left: tuple[str, ...] = ()

    @property
    def topic(self) -> Topic:
        return presence_topic(user_presence_key(self.user_id))


def presence_changed(
    key: Topic,
    total: int,
    members: tuple[str, ...] | None = (),
    joined: tuple[str, ...] = (),
    left: tuple[str, ...] = (),
) -> CounterPresenceChanged | TabsChanged:
    """The notice for a presence key's new total and members (a counter's
    signed-in watchers; a user's devices)."""
    if key[0] == "user":
        return TabsChanged(int(key[1]), total, members, joined, left)
    return CounterPresenceChanged(key[1], total, members, joined, left)
