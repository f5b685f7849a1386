"""One counter socket's session (`/ws/counter/{name}`), free of Tornado.

The wire format is `app.protocols.counter_ws` (parse a frame into a
command, build frames); this is the state between frames and what each
command does: the snapshot first, then live events through the socket's
`StreamCursor` (app.realtime.cursor), one `resume` at most, the event
types the client `subscribe`d to, presence frames without repeats, and
no command run once the socket is stopping. The Tornado handler,
app.web.counter_socket, only hands frames in and writes frames out
through a `Transport`.

Stream positions: the cursor remembers the offset of the newest event
sent (at first, the snapshot's) and never sends an older one again, so
an event that was already in the snapshot, or in a replay, is not
repeated. While the session waits for something (the snapshot's epoch, a
resume's history) it holds live events back and sends them after, in
order. An event that does not follow the newest sent (its predecessor
was lost) comes after a `reset` frame saying where to refetch from.

Speed: the session is the registry's subscriber for its counter, and an
event is encoded once per publish (kept in the publish's `shared` dict)
for every socket that sends it. Everything here runs on the event loop;
database work goes to `app.db.in_database_thread` and comes back there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Protocol

from app import metrics
from app.clock import utcnow
from app.db import in_database_thread, in_write_batch
from app.events import (
    CounterChanged,
    CounterPresenceChanged,
    Topic,
    counter_presence_key,
    counter_topic,
    presence_topic,
)
from app.models.counter import Counter
from app.models.errors import DomainError
from app.protocols import counter_ws as protocol
from app.realtime.cursor import GAP, SEND, StreamCursor
from app.realtime.history import History, Position, Recovery, count_gap, recover

if TYPE_CHECKING:
    from app.models.auth_token import AuthToken

log = logging.getLogger(__name__)

#: Key under which one publish shares its encoded event message.
_FRAME = "counter-ws-message"
#: Key under which one presence notice shares its encoded frame.
_PRESENCE_FRAME = "counter-ws-presence"


class Transport(Protocol):
    """The socket, as the session sees it."""

    def send_text(self, message: bytes, shared: dict[object, object] | None) -> bool:
        """Writes one serialised frame (`shared` caches what one publish
        frames for many sockets); False once the socket is closed or cut
        off as too slow (its closing then calls `CounterSession.closed`)."""


class Subscriber(Protocol):
    def deliver(self, event: object, shared: dict[object, object]) -> None: ...


class Registry(Protocol):
    """The realtime registry, as far as the session needs it."""

    def add(self, topic: Topic, subscriber: Subscriber) -> None: ...

    def discard(self, topic: Topic, subscriber: Subscriber) -> None: ...


class Presence(Protocol):
    """Watcher counts and members, as far as the session needs them."""

    def enter(self, key: Topic, member: str | None = None) -> None: ...

    def leave(self, key: Topic, member: str | None = None) -> None: ...

    def current(self, key: Topic) -> int | None: ...

    def members(self, key: Topic) -> tuple[str, ...] | None: ...


class Services(Protocol):
    """What the session uses of the app (app.services.Services)."""

    @property
    def registry(self) -> Registry: ...

    @property
    def presence(self) -> Presence: ...

    @property
    def history(self) -> History: ...


class CounterSession:
    """The state of one counter socket, and what it does with each frame.

    It is the registry's subscriber twice: on the counter's topic, and on
    its presence topic (so that counter events never pay for presence).
    One per open socket, so it is kept small: its fields are slots, and
    topics are built when needed rather than kept."""

    __slots__ = (
        "credential",
        "cursor",
        "epoch",
        "name",
        "operation_types",
        "registered",
        "resumed",
        "running",
        "services",
        "snapshot_offset",
        "stopping",
        "transport",
        "watchers_sent",
        "watching",
    )

    def __init__(
        self,
        name: str,
        transport: Transport,
        services: Services,
        credential: AuthToken | None = None,
    ) -> None:
        self.name = name
        self.transport = transport
        self.services = services
        #: Whose changes these are (the actor), or None: anonymous.
        self.credential = credential
        #: The event types the client subscribed to; None: all of them.
        self.operation_types: frozenset[str] | None = None
        #: Listening on the counter's topic (until closed or cut off).
        self.registered = False
        #: The newest offset sent, and live events held while waiting;
        #: made by `start`.
        self.cursor: StreamCursor[CounterChanged] | None = None
        #: The snapshot's position: what a resume must fill the gap up to.
        self.snapshot_offset = 0
        self.epoch = ""
        self.resumed = False
        #: Counted as a watcher of the counter, and listening for the count.
        self.watching = False
        #: The last count of watchers and members sent: a notice may repeat it.
        self.watchers_sent: tuple[int, tuple[str, ...] | None] | None = None
        #: Set while a command runs, done once it is answered.
        self.running: asyncio.Future[None] | None = None
        #: Stopping for a restart: commands that arrive now are not run.
        self.stopping = False

    # ------------------------------------------------------------ opening

    async def start(self) -> None:
        """Registers, then sends the snapshot and the watchers, then what
        was held meanwhile. Raises if the snapshot cannot be read."""
        # Register before reading the state: no change can fall between.
        cursor: StreamCursor[CounterChanged] = StreamCursor()
        self.cursor = cursor
        cursor.hold()
        services = self.services
        topic = counter_topic(self.name)
        services.registry.add(topic, self)
        self.registered = True
        metrics.subscriptions.labels("counter").inc()
        name = self.name
        counter = await in_database_thread(lambda: Counter.lookup(name).snapshot())
        try:
            self.epoch = await services.history.epoch(topic)
        except Exception as error:  # out of reach (Redis down): a resume will be refused
            log.warning("could not read the epoch of counter %r: %s", self.name, error)
        self.snapshot_offset = counter.operation_count
        cursor.start_at(counter.operation_count)
        self.send(protocol.snapshot_message(counter, utcnow(), self.epoch))
        if self.registered:  # (a failed snapshot write, or a close meanwhile, unregisters)
            self.watch()
        self.release()

    def failed(self) -> None:
        """`start` failed, and the socket closes: what was held is dropped."""
        if self.cursor is not None:
            self.cursor.forget()

    # ---------------------------------------------------------- receiving

    async def receive(self, frame: str | bytes) -> None:
        """Runs one client frame's command and answers it; a bad frame or a
        refused change is answered with an `error` frame. The caller awaits
        this before handing over the next frame, so one socket's commands
        run, and are answered, in order."""
        if self.stopping:
            return
        self.running = asyncio.get_running_loop().create_future()
        command: protocol.Command | None = None
        try:
            command = protocol.parse(frame)
            await self.run(command)
        except (protocol.ProtocolError, DomainError) as error:
            key = command.key if isinstance(command, protocol.Operation) else None
            self.send(protocol.error_message(str(error), key))
        finally:
            self.running.set_result(None)
            self.running = None

    async def run(self, command: protocol.Command) -> None:
        if isinstance(command, protocol.Ping):
            self.send(protocol.pong_message(utcnow()))
        elif isinstance(command, protocol.Subscribe):
            self.operation_types = command.operation_types
            self.send(protocol.subscribed_message(command.operation_types))
        elif isinstance(command, protocol.Resume):
            await self.resume(command)
        else:
            event = await in_write_batch(self.change, command)
            if not event.epoch:
                # Its history is written after the commit (Redis), which
                # stamps the broadcast; the answer has this socket's epoch.
                event = dataclasses.replace(event, epoch=self.epoch)
            self.send(protocol.result_message(command.kind, event, command.key))

    def change(self, operation: protocol.Operation) -> CounterChanged:
        """One change, in the database thread (the actor may need a query)."""
        actor = self.credential.user if self.credential is not None else None
        return Counter.change(self.name, operation.kind, operation.number, actor, operation.key)

    async def resume(self, command: protocol.Resume) -> None:
        """Sends the events after the client's position that this socket's
        snapshot already included (the client missed them: later ones came
        live), then those held meanwhile; or says `reset` once if the
        history cannot fill the gap. Once per socket: a second would send
        them again."""
        if self.resumed:
            raise protocol.ProtocolError(
                "This socket has already resumed; to resume again, reconnect and "
                "send resume as the first frame."
            )
        self.resumed = True
        cursor = self.cursor
        assert cursor is not None  # (made by `start`, which runs before any command)
        cursor.hold()
        try:
            recovery = await recover(
                self.services.history,
                counter_topic(self.name),
                command.since,
                until=self.snapshot_offset,
            )
        except Exception as error:  # the history is out of reach (Redis down)
            log.warning("could not read the history of counter %r: %s", self.name, error)
            recovery = Recovery(None, Position(cursor.offset, self.epoch))
        if recovery.events is None:
            self.send(protocol.reset_message(recovery.position))
        else:
            for event in recovery.events:  # all within the snapshot: not yet sent
                assert isinstance(event, CounterChanged)
                self.send_event(event, {})
        self.release()

    async def stop(self) -> None:
        """Runs no more commands, and returns once the one in progress, if
        any, is answered: a change applied is always acknowledged, and none
        is applied after."""
        self.stopping = True
        if self.running is not None:
            await asyncio.shield(self.running)  # (a cancelled wait leaves it be)

    # --------------------------------------------------------- live events

    def release(self) -> None:
        """Sends, in order, the live events held while the session waited."""
        if self.cursor is not None:
            self.cursor.release(self._send_held, self._tell_gap)

    def deliver(self, event: object, shared: dict[object, object]) -> None:
        """Registry callback: one live event on the counter, or a new count
        of its watchers."""
        if type(event) is not CounterChanged:
            assert isinstance(event, CounterPresenceChanged)
            self.send_watchers(event, shared)
            return
        verdict = self.cursor.accept(event.offset, event)  # type: ignore[union-attr]
        if verdict is not SEND:
            if verdict is not GAP:
                return  # held while waiting, or already in the snapshot or a replay
            self._tell_gap(event.offset, event, shared)
        self.epoch = event.epoch
        self.send_event(event, shared)

    def _send_held(self, event: CounterChanged) -> None:
        self.epoch = event.epoch
        self.send_event(event, {})

    def _tell_gap(
        self, offset: int, event: CounterChanged, shared: dict[object, object] | None = None
    ) -> None:
        """The event's predecessor was lost: the client refetches, then goes on."""
        count_gap({} if shared is None else shared)
        self.send(protocol.reset_message(Position(offset - 1, event.epoch)))

    def send_event(self, event: CounterChanged, shared: dict[object, object]) -> None:
        """Sends one event, if the client's filters let it through; its
        frame is encoded once per publish."""
        if self.operation_types is not None and event.type not in self.operation_types:
            return
        message = shared.get(_FRAME)
        if message is None:
            message = shared[_FRAME] = protocol.encode(protocol.event_message(event))
        self.send_bytes(message, shared)  # type: ignore[arg-type]

    # ----------------------------------------------------------- presence

    @property
    def member(self) -> str | None:
        """Whom this socket shows among the watchers: its signed-in user's
        name; a socket without credentials is counted, not named."""
        return self.credential.user.username if self.credential is not None else None

    def watch(self) -> None:
        """Counts the socket as a watcher, listens for the count, and sends it."""
        presence, key = self.services.presence, counter_presence_key(self.name)
        self.services.registry.add(presence_topic(key), self)
        presence.enter(key, self.member)
        self.watching = True
        watchers = presence.current(key)
        if watchers is not None:
            notice = CounterPresenceChanged(self.name, watchers, presence.members(key))
            self.send_watchers(notice, None)

    def send_watchers(
        self, notice: CounterPresenceChanged, shared: dict[object, object] | None
    ) -> None:
        """A `presence` frame, each count and member list once; encoded once
        per notice."""
        seen = (notice.watchers, notice.members)
        if seen == self.watchers_sent:
            return
        self.watchers_sent = seen
        if shared is None:
            self.send(protocol.presence_message(notice))
            return
        frame = shared.get(_PRESENCE_FRAME)
        if frame is None:
            frame = shared[_PRESENCE_FRAME] = protocol.encode(protocol.presence_message(notice))
        self.send_bytes(frame, shared)  # type: ignore[arg-type]

    # ------------------------------------------------------------ sending

    def send(self, message: dict[str, object]) -> None:
        self.send_bytes(protocol.encode(message))

    def send_bytes(self, message: bytes, shared: dict[object, object] | None = None) -> None:
        if not self.transport.send_text(message, shared):
            self.closed()

    # ------------------------------------------------------------ closing

    def closed(self) -> None:
        """The socket is closed or cut off: stops listening and watching."""
        services = self.services
        if self.registered:
            self.registered = False
            services.registry.discard(counter_topic(self.name), self)
            metrics.subscriptions.labels("counter").dec()
        if self.watching:
            self.watching = False
            key = counter_presence_key(self.name)
            services.registry.discard(presence_topic(key), self)
            services.presence.leave(key, self.member)
