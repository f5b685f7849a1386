"""`/ws/counter/{name}`: the Tornado side of the plain counter socket.

Protocol details live in `app.protocols.counter_ws`; this adapter
validates the name before the upgrade, registers the socket with the
registry, runs each command through one model method and writes frames.

Stream positions: the socket's cursor (app.realtime.cursor) remembers the
offset of the newest event it has sent (at first, the snapshot's) and
never sends an older one again, so an event that was already in the
snapshot, or in a replay, is not repeated. While it waits for something
(the snapshot's epoch, a resume's history) it holds live events back and
sends them after, in order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from app import metrics
from app.clock import utcnow
from app.db import in_database_thread
from app.events import (
    CounterChanged,
    CounterPresenceChanged,
    counter_presence_key,
    counter_topic,
    presence_topic,
)
from app.models.counter import Counter, check_name
from app.models.errors import DomainError
from app.protocols import counter_ws as protocol
from app.realtime import writer
from app.realtime.cursor import GAP, SEND, StreamCursor
from app.realtime.history import Position, Recovery, count_gap, recover
from app.web.base import BaseSocketHandler

log = logging.getLogger(__name__)

#: Key under which one publish shares its encoded event message.
_FRAME = "counter-ws-message"


#: Key under which one presence notice shares its encoded frame.
_PRESENCE_FRAME = "counter-ws-presence"


class _PresenceFrames:
    """Counts its socket as a watcher of the counter and sends it
    `presence` frames: registered on the counter's presence topic, so that
    counter events never pay for presence."""

    __slots__ = ("handler", "joined", "key", "sent")

    def __init__(self, handler: CounterSocketHandler) -> None:
        self.handler = handler
        self.key = counter_presence_key(handler.name)
        self.sent: int | None = None
        self.joined = False

    def join(self) -> None:
        services = self.handler.services
        services.registry.add(presence_topic(self.key), self)
        services.presence.enter(self.key)
        self.joined = True
        self.send(services.presence.current(self.key), None)

    def leave(self) -> None:
        if self.joined:
            self.joined = False
            services = self.handler.services
            services.registry.discard(presence_topic(self.key), self)
            services.presence.leave(self.key)

    def deliver(self, event: object, shared: dict[object, object]) -> None:
        assert isinstance(event, CounterPresenceChanged)
        self.send(event.watchers, shared)

    def send(self, watchers: int | None, shared: dict[object, object] | None) -> None:
        """Each value once: a notice may repeat what the socket was told."""
        if watchers is None or watchers == self.sent:
            return
        self.sent = watchers
        if shared is None:
            self.handler.send(protocol.presence_message(watchers))
            return
        frame = shared.get(_PRESENCE_FRAME)
        if frame is None:
            frame = shared[_PRESENCE_FRAME] = protocol.encode(protocol.presence_message(watchers))
        self.handler.send_bytes(frame, shared)  # type: ignore[arg-type]


class CounterSocketHandler(BaseSocketHandler):
    kind = "counter"
    name: str = ""
    operation_types: frozenset[str] | None = None
    registered: bool = False
    #: The newest offset sent (the snapshot's, then each event's), and the
    #: live events held back while the socket waits.
    cursor: StreamCursor[CounterChanged] | None = None
    #: The snapshot's position: what a resume must fill the gap up to.
    snapshot_offset: int = 0
    epoch: str = ""
    resumed: bool = False
    presence: _PresenceFrames | None = None
    #: Set while a command runs, done once it is answered.
    running: asyncio.Future[None] | None = None
    #: Closing for a restart: commands that arrive now are not run.
    stopping: bool = False

    async def get(self, *args: str, **kwargs: str) -> None:
        name = args[0] if args else ""
        try:
            check_name(name)
        except DomainError as error:
            self.refuse(400, str(error))
            return
        if self.authenticate():
            await super().get(*args, **kwargs)

    async def open(self, *args: str, **kwargs: str) -> None:
        super().open()
        self.name = args[0]
        try:
            await self.start()
        except Exception:
            # Tornado calls on_close only for sockets whose open succeeded.
            log.exception("could not open the counter socket for %r", self.name)
            if self.cursor is not None:
                self.cursor.forget()
            self.close(1011, "Internal server error")

    async def start(self) -> None:
        """Registers, then sends the snapshot and the watchers, then what
        was held meanwhile."""
        topic = counter_topic(self.name)
        # Register before reading the state: no change can fall between.
        cursor: StreamCursor[CounterChanged] = StreamCursor()
        self.cursor = cursor
        cursor.hold()
        self.services.registry.add(topic, self)
        self.registered = True
        metrics.subscriptions.labels("counter").inc()
        counter = await in_database_thread(lambda: Counter.lookup(self.name).snapshot())
        try:
            self.epoch = await self.services.history.epoch(topic)
        except Exception as error:  # out of reach (Redis down): a resume will be refused
            log.warning("could not read the epoch of counter %r: %s", self.name, error)
        self.snapshot_offset = counter.operation_count
        cursor.start_at(counter.operation_count)
        self.send(protocol.snapshot_message(counter, utcnow(), self.epoch))
        self.presence = _PresenceFrames(self)
        if self.registered:  # (a failed snapshot write, or a close meanwhile, unregisters)
            self.presence.join()
        self.release()

    async def on_message(self, message: str | bytes) -> None:
        """Tornado awaits this before reading the next frame, so one
        socket's operations run, and are answered, in order. Once the
        socket is closing nothing more is run: a change made then could
        not be answered (Tornado still hands over frames that arrive
        until the client acknowledges the close)."""
        connection = self.ws_connection
        if self.stopping or connection is None or connection.is_closing():
            return
        self.running = asyncio.get_running_loop().create_future()
        try:
            command = protocol.parse(message)
            await self.run(command)
        except (protocol.ProtocolError, DomainError) as error:
            self.send(protocol.error_message(str(error)))
        finally:
            self.running.set_result(None)
            self.running = None

    async def close_for_restart(self, code: int, reason: str) -> None:
        """Closes once the command in progress, if any, is answered: a
        change applied is always acknowledged, and none is applied after."""
        self.stopping = True
        if self.running is not None:
            await asyncio.shield(self.running)  # (a cancelled wait leaves it be)
        self.close(code, reason)

    async def run(self, command: protocol.Command) -> None:
        if isinstance(command, protocol.Ping):
            self.send(protocol.pong_message(utcnow()))
        elif isinstance(command, protocol.Subscribe):
            self.operation_types = command.operation_types
            self.send(protocol.subscribed_message(command.operation_types))
        elif isinstance(command, protocol.Resume):
            await self.resume(command)
        else:
            event = await in_database_thread(self.change, command)
            if not event.epoch:
                # Its history is written after the commit (Redis), which
                # stamps the broadcast; the answer has this socket's epoch.
                event = dataclasses.replace(event, epoch=self.epoch)
            self.send(protocol.result_message(command.kind, event))

    def change(self, operation: protocol.Operation) -> CounterChanged:
        actor = self.credential.user if self.credential is not None else None
        return Counter.change(self.name, operation.kind, operation.number, actor)

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
        assert self.cursor is not None  # (made by `start`, which runs before any command)
        self.cursor.hold()
        try:
            recovery = await recover(
                self.services.history,
                counter_topic(self.name),
                command.since,
                until=self.snapshot_offset,
            )
        except Exception as error:  # the history is out of reach (Redis down)
            log.warning("could not read the history of counter %r: %s", self.name, error)
            recovery = Recovery(None, Position(self.cursor.offset, self.epoch))
        if recovery.events is None:
            self.send(protocol.reset_message(recovery.position))
        else:
            for event in recovery.events:  # all within the snapshot: not yet sent
                assert isinstance(event, CounterChanged)
                self.send_event(event, {})
        self.release()

    def release(self) -> None:
        """Sends, in order, the live events held while the socket waited."""
        if self.cursor is not None:
            self.cursor.release(self._send_held, self._tell_gap)

    def deliver(self, event: object, shared: dict[object, object]) -> None:
        assert isinstance(event, CounterChanged)
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
        if self.operation_types is not None and event.type not in self.operation_types:
            return
        message = shared.get(_FRAME)
        if message is None:
            message = shared[_FRAME] = protocol.encode(protocol.event_message(event))
        self.send_bytes(message, shared)  # type: ignore[arg-type]

    def send(self, message: dict[str, object]) -> None:
        self.send_bytes(protocol.encode(message))

    def send_bytes(self, message: bytes, shared: dict[object, object] | None = None) -> None:
        if not writer.send_text(self, message, shared):
            self.unregister()

    def on_close(self) -> None:
        super().on_close()
        self.unregister()

    def unregister(self) -> None:
        if self.registered:
            self.registered = False
            self.services.registry.discard(counter_topic(self.name), self)
            metrics.subscriptions.labels("counter").dec()
        if self.presence is not None:
            self.presence.leave()
