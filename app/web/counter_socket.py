"""`/ws/counter/{name}`: the Tornado side of the plain counter socket.

Protocol details live in `app.protocols.counter_ws`; this adapter
validates the name before the upgrade, registers the socket with the
registry, runs each command through one model method and writes frames.
"""

from __future__ import annotations

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
    presence: _PresenceFrames | None = None

    async def get(self, *args: str, **kwargs: str) -> None:
        name = args[0] if args else ""
        try:
            check_name(name)
        except DomainError as error:
            self.refuse(400, str(error))
            return
        if self.authenticate():
            await super().get(*args, **kwargs)

    def open(self, *args: str, **kwargs: str) -> None:
        super().open()
        self.name = args[0]
        # Register before reading the state: no change can fall between.
        self.services.registry.add(counter_topic(self.name), self)
        self.registered = True
        metrics.subscriptions.labels("counter").inc()
        counter = Counter.lookup(self.name)
        self.send(protocol.snapshot_message(counter.snapshot(), utcnow()))
        self.presence = _PresenceFrames(self)
        if self.registered:  # (a failed snapshot write unregisters)
            self.presence.join()

    async def on_message(self, message: str | bytes) -> None:
        """Tornado awaits this before reading the next frame, so one
        socket's operations run, and are answered, in order."""
        try:
            command = protocol.parse(message)
            await self.run(command)
        except (protocol.ProtocolError, DomainError) as error:
            self.send(protocol.error_message(str(error)))

    async def run(self, command: protocol.Command) -> None:
        if isinstance(command, protocol.Ping):
            self.send(protocol.pong_message(utcnow()))
        elif isinstance(command, protocol.Subscribe):
            self.operation_types = command.operation_types
            self.send(protocol.subscribed_message(command.operation_types))
        else:
            event = await in_database_thread(self.change, command)
            self.send(protocol.result_message(command.kind, event))

    def change(self, operation: protocol.Operation) -> CounterChanged:
        actor = self.credential.user if self.credential is not None else None
        return Counter.change(self.name, operation.kind, operation.number, actor)

    def deliver(self, event: object, shared: dict[object, object]) -> None:
        assert isinstance(event, CounterChanged)
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
