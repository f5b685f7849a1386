"""An HTTP response held open as a stream of Server-Sent Events, from its
first bytes to its end: what GraphQL over SSE (app.web.graphql_sse) opens
once a request is accepted.

An open stream counts as a socket: in `live_open_sockets` (kind "sse",
so on /status too) until it ends, whichever way; towards the user's limit
of sockets; in the shutdown's list (`close_for_restart`: queries and
mutations running are answered, then the response ends and clients
reconnect); and it ends when its credential signs out. A keep-alive
comment goes every `Settings.event_stream_keep_alive` seconds (12). A
client that stops reading is cut off at 1 MiB waiting, as a socket is,
and its connection let go of (`cut_off`).

What the events say is the protocol's (`app.protocols.graphql_sse`); this
module only carries them, through `_Wire`, the protocol's `Transport`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.iostream import IOStream

from app import metrics
from app.api.errors import BAD_USER_INPUT
from app.events import credential_topic, user_sockets_topic
from app.models.auth_token import AuthToken
from app.protocols import graphql_sse as protocol
from app.realtime.writer import MAX_PENDING_BYTES
from app.web.base import MAX_SOCKETS_PER_USER, BaseHandler

log = logging.getLogger(__name__)

#: The label of event streams in `live_open_sockets` (and /status).
KIND = "sse"


class _SignOutWatch:
    """Registered under the stream's credential: ends it on sign-out, and
    counts it among the user's sockets."""

    __slots__ = ("handler",)

    def __init__(self, handler: EventStreamHandler) -> None:
        self.handler = handler

    def deliver(self, event: object, shared: dict[object, object]) -> None:
        IOLoop.current().add_callback(self.handler.end)


class _Wire:
    """The handler as the protocol's `Transport`."""

    __slots__ = ("handler",)

    def __init__(self, handler: EventStreamHandler) -> None:
        self.handler = handler

    def write(self, data: bytes) -> None:
        self.handler.send_events(data)

    def end(self) -> None:
        self.handler.end()


class EventStreamHandler(BaseHandler):
    """A handler whose response may become an event stream (`begin`)."""

    credential: AuthToken | None = None
    stream: protocol.EventStream | None = None
    ended: asyncio.Future[None] | None = None
    keep_alive_timer: PeriodicCallback | None = None
    watched: tuple[Any, ...] = ()

    def fail(self, status: int, message: str, code: str = BAD_USER_INPUT) -> None:
        """A refusal, in GraphQL's error shape, instead of a stream."""
        error = {"message": message, "extensions": {"code": code}}
        self.write_json({"errors": [error]}, status=status)

    def begin(self, stream: protocol.EventStream) -> bool:
        """Starts the response as an event stream; False after refusing."""
        credential = self.credential
        if credential is not None:
            topic = user_sockets_topic(credential.user_id)
            if len(self.services.registry.subscribers(topic)) >= MAX_SOCKETS_PER_USER:
                self.fail(
                    429,
                    f"You have {MAX_SOCKETS_PER_USER} sockets and streams open, "
                    "the most allowed; close one.",
                )
                return False
            watch = _SignOutWatch(self)
            self.watched = ((credential_topic(credential.id), watch), (topic, watch))
            for watched_topic, watcher in self.watched:
                self.services.registry.add(watched_topic, watcher)
        self.stream = stream
        self.ended = asyncio.get_running_loop().create_future()
        self.services.sockets.add(self)
        metrics.open_sockets.labels(KIND).inc()
        self.set_status(200)
        self.set_header("Content-Type", f"{protocol.EVENT_STREAM}; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")  # (nginx would hold events back)
        self.keep_alive_timer = PeriodicCallback(
            stream.keep_alive, self.services.settings.event_stream_keep_alive * 1000
        )
        self.keep_alive_timer.start()
        stream.attach(_Wire(self))  # the first bytes: headers and a comment go now
        return True

    async def streaming(self) -> None:
        """Until the stream ends, from either side."""
        assert self.ended is not None
        await self.ended

    def send_events(self, chunk: bytes) -> None:
        """Transport.write: events, flushed. Bounded as a socket's frames
        are (app.realtime.writer): when bytes already wait for the client
        and this chunk would take them past `MAX_PENDING_BYTES`, the
        client is not reading and the stream is cut off instead."""
        if self._finished or self.ended is None or self.ended.done():
            return
        connection: Any = getattr(self.request.connection, "stream", None)
        queued = len(connection._write_buffer) if connection is not None else 0
        if queued and queued + len(chunk) > MAX_PENDING_BYTES:
            self.cut_off(connection)
            return
        self.write(chunk)
        self.flush()

    def cut_off(self, connection: IOStream) -> None:
        """Ends the stream of a client that stopped reading by closing its
        connection, which drops what waits for it. (Ending the response
        would queue its last chunk behind that megabyte, for a client that
        may never read it: the connection and its buffer would be kept.)
        Clients take a broken stream as a reason to reconnect, and resume
        from their `Last-Event-ID`."""
        log.info("cutting off a slow event stream: over 1 MiB waited for it")
        metrics.slow_consumer_disconnects.inc()
        self.stopped()
        connection.close()

    def end(self) -> None:
        """Transport.end: the response ends; the client may reconnect."""
        if self.stream is not None:
            stream, self.stream = self.stream, None
            stream.closed()
        self.stopped()
        if not self._finished and self.request.connection is not None:
            self.finish()

    def stopped(self) -> None:
        """Lets go of everything the stream held (idempotent)."""
        if self.stream is not None:
            self.stream.closed()
        if self in self.services.sockets:
            self.services.sockets.discard(self)
            metrics.open_sockets.labels(KIND).dec()
        for topic, watcher in self.watched:
            self.services.registry.discard(topic, watcher)
        self.watched = ()
        if self.keep_alive_timer is not None:
            self.keep_alive_timer.stop()
            self.keep_alive_timer = None
        if self.ended is not None and not self.ended.done():
            self.ended.set_result(None)

    def on_connection_close(self) -> None:
        super().on_connection_close()
        self.stopped()

    def on_finish(self) -> None:
        super().on_finish()
        self.stopped()

    async def close_for_restart(self, code: int, reason: str) -> None:
        """The shutdown's call: queries and mutations running are answered
        first, then the stream ends (clients reconnect elsewhere)."""
        if self.stream is not None:
            await self.stream.finish_requests()
        self.end()

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        self.end()
