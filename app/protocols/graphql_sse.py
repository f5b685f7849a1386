"""GraphQL over Server-Sent Events (graphql-sse's PROTOCOL.md), free of
Tornado and of GraphQL execution.

For networks that block WebSockets. Two modes, both on plain HTTP:

- Distinct connections: one request (GET or POST with `Accept:
  text/event-stream`) is one operation; its results are `next` events,
  then `complete`, and the server ends the response. The client stops a
  subscription by closing the connection.
- Single connection: a reservation (`PUT`) gives a token; one `GET`
  with the token carries the events of every operation, which are
  started by `POST`s with the token and an `extensions.operationId`
  (answered 202) and stopped by `DELETE ?operationId=`. Each event's data
  is then `{"id": …, "payload": …}` (`next`) or `{"id": …}` (`complete`).

An `EventStream` is one such stream of events and its running operations
(in single connection mode it exists from the reservation on, and what
it sends before its `GET` arrives waits for it, bounded); it speaks
through a `Transport` (write bytes, end the response). Operations run
through the same `app.api.operations.run_operation` as on the socket,
as members of live groups (`LiveOperation`, shared with
graphql-transport-ws), so each `next` carries the same
`extensions.stream` position. That position is also the event's SSE
`id:` (`<offset>:<epoch>`), so that a client reconnecting with
`Last-Event-ID` (browsers' EventSource does by itself) resumes from it,
exactly as `extensions.since` does (`since_from_last_event_id`).

What stock clients would misread is never sent: there is no `error`
event in this protocol, so an operation that fails gets a `next` with
`errors` and then its `complete`; only `next` and `complete` events and
keep-alive comments (`:`) are written; data is one line of JSON.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import orjson

from app.protocols.graphql_ws import (
    MAX_OPERATIONS,
    MAX_RESULT_BYTES,
    LiveOperation,
    RunningOperations,
    relay,
    too_large,
)
from app.realtime.history import Position, PositionError

log = logging.getLogger(__name__)

EVENT_STREAM = "text/event-stream"
#: Where single connection mode's requests carry the reservation's token.
TOKEN_HEADER = "X-GraphQL-Event-Stream-Token"
TOKEN_PARAMETER = "token"
OPERATION_ID_PARAMETER = "operationId"
#: A comment line: clients skip it, and proxies see the stream is alive
#: (sent every `Settings.event_stream_keep_alive` seconds, and first).
KEEP_ALIVE = b":\n\n"
#: A reservation whose event stream has not arrived by then is dropped.
RESERVATION_SECONDS = 30.0
#: Reservations one process keeps at once (each is a little memory until
#: its stream comes or it expires: without a bound, PUTs could fill it).
MAX_RESERVATIONS = 10_000
#: Bytes kept for a reserved stream whose `GET` has not arrived yet.
MAX_WAITING_BYTES = 1024 * 1024

NEXT = b"next"
COMPLETE = b"complete"


def event(kind: bytes, data: bytes | None, event_id: str | None = None) -> bytes:
    """One SSE event. `data` is serialised JSON (one line); `complete` in
    distinct mode has none, but keeps an empty `data:` field so that
    EventSource dispatches it (PROTOCOL.md)."""
    head = b"event: " + kind + b"\n"
    if event_id is not None:
        head += b"id: " + event_id.encode() + b"\n"
    return head + (b"data: " + data if data is not None else b"data:") + b"\n\n"


def position_id(payload: bytes) -> str | None:
    """The SSE `id:` for a `next` payload: its stream position as
    `<offset>:<epoch>`, or None when it has none."""
    try:
        stream = orjson.loads(payload).get("extensions", {}).get("stream", {})
    except (orjson.JSONDecodeError, AttributeError):
        return None
    offset, epoch = stream.get("offset"), stream.get("epoch")
    if isinstance(offset, bool) or not isinstance(offset, int) or not isinstance(epoch, str):
        return None
    if any(character in epoch for character in "\r\n\0"):
        return None  # (an id line cannot hold them; ours never do)
    return f"{offset}:{epoch}"


def since_from_last_event_id(value: str) -> Position:
    """The position a `Last-Event-ID` header names (an `id:` we sent), or
    a PositionError saying what is wrong with it."""
    offset, colon, epoch = value.strip().partition(":")
    if not colon or not offset.isdigit() or not offset.isascii():
        raise PositionError(
            f"Last-Event-ID must be `<offset>:<epoch>`, as the event's id said; got {value!r}."
        )
    return Position.parse({"offset": int(offset), "epoch": epoch})


def new_token() -> str:
    """A reservation's token: unguessable, since it names a stream."""
    return secrets.token_urlsafe(24)


class Transport(Protocol):
    def write(self, data: bytes) -> None:
        """Writes and flushes; may end the stream (a client too slow)."""

    def end(self) -> None:
        """Ends the response; the stream's `closed` follows."""


class EventStream(RunningOperations):
    """One event stream and its running operations. `single` says the
    mode: in distinct mode it runs one operation, under the id "", and
    ends after it."""

    __slots__ = ("done", "owner", "single", "token", "transport", "waiting", "waiting_bytes")

    def __init__(
        self,
        single: bool,
        transport: Transport | None = None,
        owner: int | None = None,
        token: str = "",
    ) -> None:
        super().__init__()
        self.single = single
        self.transport = transport
        #: The user who reserved it (None: anonymous); only they may use it.
        self.owner = owner
        self.token = token
        #: Events written before the stream's `GET` arrived.
        self.waiting: list[bytes] = []
        self.waiting_bytes = 0
        #: Ended: nothing more is sent, nothing more started.
        self.done = False

    # ------------------------------------------------------------ writing

    def attach(self, transport: Transport) -> None:
        """The reserved stream's `GET` has arrived: send what waited."""
        self.transport = transport
        transport.write(KEEP_ALIVE + b"".join(self.waiting))
        self.waiting, self.waiting_bytes = [], 0

    def _write(self, data: bytes) -> None:
        if self.done:
            return
        if self.transport is not None:
            self.transport.write(data)
            return
        self.waiting.append(data)
        self.waiting_bytes += len(data)
        if self.waiting_bytes > MAX_WAITING_BYTES:
            log.info("dropping an event stream reservation: its stream never came to read")
            self.closed()

    def keep_alive(self) -> None:
        if self.transport is not None and not self.done:
            self.transport.write(KEEP_ALIVE)

    def _data(self, op_id: str, payload: bytes) -> bytes:
        if not self.single:
            return payload
        return b'{"id":' + orjson.dumps(op_id) + b',"payload":' + payload + b"}"

    # ---------------------------------------------------------- operations

    def member(self, op_id: str, positions: bool) -> LiveOperation:
        """What the live group of operation `op_id` pushes its events to."""
        return LiveOperation(self, op_id, positions)

    def start(self, op_id: str, results: AsyncIterator[dict[str, Any]]) -> str | None:
        """Runs one operation, its results as `next` events; None, or why
        it cannot start."""
        problem = None
        if self.done or self.stopping:
            problem = "This event stream is closing; open a new one."
        elif op_id in self.operations:
            problem = f"An operation with id {op_id!r} is already running on this stream."
        elif len(self.operations) >= MAX_OPERATIONS:
            problem = (
                f"At most {MAX_OPERATIONS} operations may run at once on one event stream; "
                "stop some first."
            )
        if problem is not None:
            return problem  # (`results`, never started, holds nothing)
        self.operations[op_id] = asyncio.ensure_future(self._run(op_id, results))
        return None

    def stop(self, op_id: str) -> bool:
        """The client stopped `op_id` (DELETE): nothing more is sent for it."""
        task = self.operations.pop(op_id, None)
        self.subscribed.discard(op_id)
        if task is None:
            return False
        task.cancel()
        return True

    def push(self, op_id: str, payload: bytes, shared: dict[object, object]) -> None:
        """One live event's payload for `op_id` (from its group; members
        share `payload`, so the event is framed once per publish)."""
        if op_id not in self.operations:
            return
        key = (EventStream, self.single and op_id, payload)
        message = shared.get(key)
        if message is None:
            message = shared[key] = event(NEXT, self._data(op_id, payload), position_id(payload))
        if len(message) > MAX_RESULT_BYTES:  # type: ignore[arg-type]
            self.operations.pop(op_id).cancel()
            self.subscribed.discard(op_id)
            self._fail(op_id, too_large(len(message)))  # type: ignore[arg-type]
            return
        self._write(message)  # type: ignore[arg-type]

    async def _run(self, op_id: str, results: AsyncIterator[dict[str, Any]]) -> None:
        await relay(
            self,
            op_id,
            results,
            frame=lambda result: event(NEXT, self._data(op_id, orjson.dumps(result))),
            write=self._write,
            complete=lambda: self._complete(op_id),
            fail=lambda errors: self._fail(op_id, errors),
        )

    def _fail(self, op_id: str, errors: list[dict[str, Any]]) -> None:
        """No `error` event exists here: the errors are a result, then the
        operation completes."""
        self._write(event(NEXT, self._data(op_id, orjson.dumps({"errors": errors}))))
        self._complete(op_id)

    def _complete(self, op_id: str) -> None:
        if self.single:
            self._write(event(COMPLETE, orjson.dumps({"id": op_id})))
            return
        self._write(event(COMPLETE, None))
        self.end()  # a distinct stream carries one operation

    # ------------------------------------------------------------ closing

    def end(self) -> None:
        """Ends the stream from this side (its operations stop)."""
        transport = self.transport
        self.closed()
        if transport is not None:
            transport.end()

    def closed(self) -> None:
        """The stream is gone: stop every operation."""
        self.done = True
        self.subscribed.clear()
        self.waiting, self.waiting_bytes = [], 0
        operations, self.operations = self.operations, {}
        current = asyncio.current_task() if operations else None
        for task in operations.values():
            if task is not current:  # (an operation completing ends its stream)
                task.cancel()


class Reservations:
    """Single connection mode's streams, by token, in this process (a
    client's requests all go to the process that reserved its stream)."""

    def __init__(
        self,
        call_later: Callable[[float, Callable[[], None]], object],
        limit: int = MAX_RESERVATIONS,
    ) -> None:
        self.streams: dict[str, EventStream] = {}
        self.call_later = call_later
        self.limit = limit

    def reserve(self, owner: int | None) -> EventStream | None:
        """A new reservation for `owner`; None when `limit` are kept."""
        if len(self.streams) >= self.limit:
            return None
        token = new_token()
        stream = self.streams[token] = EventStream(True, owner=owner, token=token)
        self.call_later(RESERVATION_SECONDS, lambda: self._unclaimed(stream))
        return stream

    def _unclaimed(self, stream: EventStream) -> None:
        if stream.transport is None and self.streams.get(stream.token) is stream:
            self.drop(stream)

    def find(self, token: str, owner: int | None) -> EventStream | None:
        """The stream reserved under `token` by `owner`; None for any other
        user, so a token does not tell whether it exists."""
        stream = self.streams.get(token)
        if stream is None or stream.owner != owner or stream.done:
            return None
        return stream

    def drop(self, stream: EventStream) -> None:
        if self.streams.get(stream.token) is stream:
            del self.streams[stream.token]
        stream.closed()
