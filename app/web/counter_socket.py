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
from app.events import CounterChanged, counter_topic
from app.models.counter import Counter, check_name
from app.models.errors import DomainError
from app.protocols import counter_ws as protocol
from app.realtime import writer
from app.web.base import BaseSocketHandler

log = logging.getLogger(__name__)

#: Key under which one publish shares its encoded event message.
_FRAME = "counter-ws-message"


class CounterSocketHandler(BaseSocketHandler):
    kind = "counter"
    name: str = ""
    operation_types: frozenset[str] | None = None
    registered: bool = False

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
