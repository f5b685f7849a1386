"""The graphql-transport-ws protocol (graphql-ws's PROTOCOL.md), one session
per socket, free of Tornado and of GraphQL execution.

The session parses client messages, keeps the connection's state
(awaiting init, acknowledged, closed) and its operations, and speaks
through two narrow interfaces: a `Transport` (send a message, close) and
an `Application` (accept an init payload; run one operation as an async
iterator of results). Close codes and reasons are those of the reference
server, so clients react to them as they were written to.

Traps this session avoids, each learnt elsewhere:
- The connection is marked acknowledged before `connection_ack` is sent,
  so a client's immediate `subscribe` is never a false 4401.
- An operation's id is reserved the moment `subscribe` arrives, before
  parsing and validation, so a duplicate during preparation is still
  4409; a `complete` during preparation drops the result.
- Each operation runs in its own task: Tornado awaits `on_message`
  before reading the next frame, and one slow operation must not stall
  the socket.
- A close reason is cut to the 123 bytes of UTF-8 a close frame can
  carry: a 4409 naming a long or non-ASCII id must not fail to close and
  turn into a 4500. A `type` that is not a string is a 4400, like any
  unknown type.
- A result over `MAX_RESULT_BYTES` is not sent: its operation gets an
  `error` saying so (a subscription ends with it) and the connection
  stays open, rather than being cut off as a slow consumer.
- After an `error` message no `complete` follows; after the client's own
  `complete` the server sends nothing more for that id.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypedDict

import orjson

from app.api.payloads import OperationError, SubscribePayload
from app.realtime.cursor import GAP, SEND, StreamCursor

log = logging.getLogger(__name__)

SUBPROTOCOL = "graphql-transport-ws"

# Close codes, with the reference server's reasons.
BAD_REQUEST = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
SUBPROTOCOL_NOT_ACCEPTABLE = 4406
INIT_TIMEOUT = 4408
DUPLICATE_OPERATION = 4409
TOO_MANY_INIT = 4429
INTERNAL_ERROR = 4500

#: Operations one connection may run at once.
MAX_OPERATIONS = 100
#: The most bytes of UTF-8 a close frame's reason can carry (RFC 6455 5.5).
MAX_REASON_BYTES = 123
#: The largest `next` message sent; a larger result is an `error` for its
#: operation, and the connection carries on. (As large as the slow-consumer
#: bound, app.realtime.writer.MAX_PENDING_BYTES.)
MAX_RESULT_BYTES = 1024 * 1024


class NextMessage(TypedDict):
    id: str
    type: str
    payload: dict[str, Any]


class ErrorMessage(TypedDict):
    id: str
    type: str
    payload: list[dict[str, Any]]


class Refused(Exception):
    """The init payload is not acceptable; the socket closes with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Transport(Protocol):
    def send(self, message: dict[str, Any]) -> None: ...

    def send_text(self, message: bytes, shared: dict[object, object]) -> None:
        """Sends an already serialised message; `shared` lets one publish
        frame equal messages only once."""

    def close(self, code: int, reason: str) -> None: ...


class Application(Protocol):
    def connect(self, payload: dict[str, Any] | None) -> dict[str, Any] | None:
        """Accepts the init payload (returning the ack payload) or raises
        `Refused`."""

    def run(self, op_id: str, payload: SubscribePayload) -> AsyncIterator[dict[str, Any]]:
        """The results of one operation; raises `OperationError`. Live
        events may instead arrive through `Session.push` for `op_id`."""


class Outlet(Protocol):
    """Where a `LiveOperation` sends: a session of any protocol that runs
    operations by id (this one's, or app.protocols.graphql_sse's)."""

    def push(self, op_id: str, payload: bytes, shared: dict[object, object]) -> None: ...

    def joined(self, op_id: str) -> None: ...


class LiveOperation:
    """One running operation as a member of a live group: where its events
    go. Its `StreamCursor` sends each stream offset once, in order, and
    holds live events while the operation catches up; it is made when the
    first position is known (an operation that never sees one, such as a
    presence subscription, needs none).

    Only an operation that asked for stream positions (`extensions.since`
    in its subscribe payload: `positions`) is told of a hole in its stream,
    by a `next` without data. Standard clients never ask, and misread such
    a `next` (Relay ends the subscription, Apollo and urql repeat the last
    result, gql raises): they get only results with data."""

    __slots__ = ("cursor", "op_id", "positions", "session")

    def __init__(self, session: Outlet, op_id: str, positions: bool = False) -> None:
        self.session = session
        self.op_id = op_id
        self.positions = positions
        self.cursor: StreamCursor[bytes] | None = None

    def joined(self) -> None:
        self.session.joined(self.op_id)

    def _cursor(self) -> StreamCursor[bytes]:
        cursor = self.cursor
        if cursor is None:
            cursor = self.cursor = StreamCursor()
        return cursor

    def hold(self) -> None:
        self._cursor().hold()

    def push(
        self,
        payload: bytes,
        shared: dict[object, object],
        offset: int | None,
        gap: Callable[[int], bytes],
    ) -> None:
        if offset is not None:
            cursor = self.cursor
            if cursor is None:
                self.cursor = StreamCursor(offset)  # its first position
            else:
                verdict = cursor.accept(offset, payload)
                if verdict is not SEND:
                    if verdict is not GAP:
                        return  # held, or sent already
                    if self.positions:
                        self.session.push(self.op_id, gap(offset), {})
        self.session.push(self.op_id, payload, shared)

    def send_now(self, payload: bytes, offset: int | None) -> None:
        if offset is not None:
            self._cursor().start_at(offset)
        self.session.push(self.op_id, payload, {})

    def start_at(self, offset: int) -> None:
        self._cursor().start_at(offset)

    def release(self, gap: Callable[[int], bytes]) -> None:
        def tell(offset: int, _payload: bytes) -> None:
            if self.positions:
                self.session.push(self.op_id, gap(offset), {})

        self._cursor().release(self._send, tell)

    def _send(self, payload: bytes) -> None:
        self.session.push(self.op_id, payload, {})

    def forget(self) -> None:
        if self.cursor is not None:
            self.cursor.forget()


def asks_for_positions(payload: SubscribePayload) -> bool:
    """Whether a subscribe payload names a stream position to go on from
    (`extensions.since`): only such a client is sent data-less notices."""
    return (payload.get("extensions") or {}).get("since") is not None


def next_message(op_id: str, payload: bytes) -> bytes:
    """`{"id": …, "type": "next", "payload": …}` around serialised JSON."""
    return b'{"id":' + orjson.dumps(op_id) + b',"type":"next","payload":' + payload + b"}"


#: What a client hears of an operation that failed on a bug of ours (the
#: traceback goes to the log).
BUG_ERRORS: list[dict[str, Any]] = [
    {"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
]


class RunningOperations:
    """The operations a session runs by id, this protocol's socket or
    app.protocols.graphql_sse's event stream: which of them are running
    subscriptions, and, closing for a restart, the wait for the others."""

    __slots__ = ("_settled", "operations", "stopping", "subscribed")

    def __init__(self) -> None:
        self.operations: dict[str, asyncio.Task[None]] = {}
        #: Ids of the operations that are running subscriptions (the rest
        #: are queries and mutations on their way to a result).
        self.subscribed: set[str] = set()
        #: Closing for a restart: no operation is started any more.
        self.stopping = False
        #: While stopping: done when an operation becomes a subscription.
        self._settled: asyncio.Future[None] | None = None

    def joined(self, op_id: str) -> None:
        """The operation `op_id` is a running subscription from now on."""
        self.subscribed.add(op_id)
        if self._settled is not None and not self._settled.done():
            self._settled.set_result(None)

    async def finish_requests(self) -> None:
        """Starts no more operations and waits until the queries and
        mutations running have sent their results (subscriptions never
        finish: not waited for), so that a change made is never left
        unanswered by a restart."""
        self.stopping = True
        while running := [
            task for op_id, task in self.operations.items() if op_id not in self.subscribed
        ]:
            # Each ends, or turns out to be a subscription (joins its group).
            self._settled = asyncio.get_running_loop().create_future()
            await asyncio.wait([*running, self._settled], return_when=asyncio.FIRST_COMPLETED)
        self._settled = None


async def relay(
    session: RunningOperations,
    op_id: str,
    results: AsyncIterator[dict[str, Any]],
    frame: Callable[[dict[str, Any]], bytes],
    write: Callable[[bytes], object],
    complete: Callable[[], object],
    fail: Callable[[list[dict[str, Any]]], object],
) -> None:
    """Runs one operation's results out to its client, framed by the
    protocol: each result over MAX_RESULT_BYTES fails the operation, a bug
    fails it with BUG_ERRORS, and nothing is sent once the operation is
    no longer this task's (the client stopped it, or reused its id)."""

    def owned() -> bool:
        return session.operations.get(op_id) is asyncio.current_task()

    try:
        async for result in results:
            if not owned():
                return
            message = frame(result)
            if len(message) > MAX_RESULT_BYTES:
                raise OperationError(too_large(len(message)))
            write(message)
        if owned():
            complete()
    except OperationError as failure:
        if owned():
            fail(failure.errors)
    except asyncio.CancelledError:
        pass
    except Exception:
        log.exception("operation %r failed", op_id)
        if owned():
            fail(BUG_ERRORS)
    finally:
        await results.aclose()  # type: ignore[attr-defined]
        if owned():
            del session.operations[op_id]
            session.subscribed.discard(op_id)


class State(enum.Enum):
    AWAITING_INIT = "awaiting init"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


def _optional_object(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _valid_subscribe(message: dict[str, Any]) -> bool:
    op_id, payload = message.get("id"), message.get("payload")
    if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
        return False
    query, extensions = payload.get("query"), payload.get("extensions")
    # The query may be named by its hash alone (app.api.persisted).
    named = isinstance(extensions, dict) and "persistedQuery" in extensions
    return (
        (isinstance(query, str) or (query is None and named))
        and _optional_object(payload.get("variables"))
        and _optional_object(payload.get("extensions"))
        and isinstance(payload.get("operationName", ""), str | None)
    )


def too_large(size: int) -> list[dict[str, Any]]:
    """The error for a result of `size` bytes, over `MAX_RESULT_BYTES`."""
    return [
        {
            "message": f"The result is {size / 1_000_000:.1f} MB; results over the socket "
            f"are limited to {MAX_RESULT_BYTES // (1024 * 1024)} MiB. Ask for fewer items.",
            "extensions": {"code": "BAD_USER_INPUT"},
        }
    ]


def fit_reason(reason: str) -> str:
    """`reason` cut to what a close frame carries, on a character boundary
    (a longer one would make the close itself fail)."""
    encoded = reason.encode()
    if len(encoded) <= MAX_REASON_BYTES:
        return reason
    return encoded[: MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


class Session(RunningOperations):
    # One per socket, alive as long as it is.
    __slots__ = ("application", "state", "transport")

    def __init__(self, transport: Transport, application: Application) -> None:
        super().__init__()
        self.transport = transport
        self.application = application
        self.state = State.AWAITING_INIT

    # ---------------------------------------------------------- receiving

    def receive(self, frame: str | bytes) -> None:
        """Handles one client frame; never raises."""
        if self.state is State.CLOSED:
            return
        if isinstance(frame, bytes):
            self.close(BAD_REQUEST, "Binary frames are not part of graphql-transport-ws")
            return
        try:
            message = orjson.loads(frame)
        except orjson.JSONDecodeError:
            self.close(BAD_REQUEST, "Invalid message received: not JSON")
            return
        if not isinstance(message, dict):
            self.close(BAD_REQUEST, "Invalid message received: not a JSON object")
            return
        kind = message.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            self.close(BAD_REQUEST, "Invalid message received: unknown type")
            return
        try:
            handler(self, message)
        except Exception:
            log.exception("graphql-transport-ws session failed on a %s", message.get("type"))
            self.close(INTERNAL_ERROR, "Internal server error")

    def _on_init(self, message: dict[str, Any]) -> None:
        if self.state is not State.AWAITING_INIT:
            self.close(TOO_MANY_INIT, "Too many initialisation requests")
            return
        payload = message.get("payload")
        if not _optional_object(payload):
            self.close(BAD_REQUEST, "Invalid message received: payload must be an object")
            return
        try:
            ack_payload = self.application.connect(payload)
        except Refused as refusal:
            self.close(refusal.code, refusal.reason)
            return
        self.state = State.ACKNOWLEDGED  # before the ack: see the module docstring
        ack: dict[str, Any] = {"type": "connection_ack"}
        if ack_payload is not None:
            ack["payload"] = ack_payload
        self.transport.send(ack)

    def _on_ping(self, message: dict[str, Any]) -> None:
        if not _optional_object(message.get("payload")):
            self.close(BAD_REQUEST, "Invalid message received: payload must be an object")
            return
        pong: dict[str, Any] = {"type": "pong"}
        if "payload" in message:
            pong["payload"] = message["payload"]
        self.transport.send(pong)

    def _on_pong(self, message: dict[str, Any]) -> None:
        """A heartbeat or an answer to our ping: nothing to do."""

    def _on_subscribe(self, message: dict[str, Any]) -> None:
        if self.state is not State.ACKNOWLEDGED:
            self.close(UNAUTHORIZED, "Unauthorized")
            return
        if not _valid_subscribe(message):
            self.close(BAD_REQUEST, "Invalid message received: malformed subscribe")
            return
        op_id: str = message["id"]
        if self.stopping:
            return  # the socket closes (1012) once the running ones are answered
        if op_id in self.operations:
            self.close(DUPLICATE_OPERATION, f"Subscriber for {op_id} already exists")
            return
        if len(self.operations) >= MAX_OPERATIONS:
            self.send_error(
                op_id,
                [
                    {
                        "message": f"At most {MAX_OPERATIONS} operations may run at once on "
                        "one connection; complete some first.",
                        "extensions": {"code": "BAD_USER_INPUT"},
                    }
                ],
            )
            return
        task = asyncio.ensure_future(self._run(op_id, message["payload"]))
        self.operations[op_id] = task

    def _on_complete(self, message: dict[str, Any]) -> None:
        op_id = message.get("id")
        if not isinstance(op_id, str):
            self.close(BAD_REQUEST, "Invalid message received: complete needs an id")
            return
        task = self.operations.pop(op_id, None)
        self.subscribed.discard(op_id)
        if task is not None:
            task.cancel()

    _handlers: dict[str, Callable[[Session, dict[str, Any]], None]] = {
        "connection_init": _on_init,
        "ping": _on_ping,
        "pong": _on_pong,
        "subscribe": _on_subscribe,
        "complete": _on_complete,
    }

    # ---------------------------------------------------------- operations

    def push(self, op_id: str, payload: bytes, shared: dict[object, object]) -> None:
        """Sends one event's serialised result as a `next` for `op_id`, if
        that operation is still running (a client's complete stops it at
        once). Members of one group share `payload`; the message is built
        once per distinct id in a publish."""
        if op_id not in self.operations:
            return
        key = (op_id, payload)
        message = shared.get(key)
        if message is None:
            message = shared[key] = next_message(op_id, payload)
        if len(message) > MAX_RESULT_BYTES:  # type: ignore[arg-type]
            self.operations.pop(op_id).cancel()
            self.subscribed.discard(op_id)
            self.send_error(op_id, too_large(len(message)))  # type: ignore[arg-type]
            return
        self.transport.send_text(message, shared)  # type: ignore[arg-type]

    async def _run(self, op_id: str, payload: SubscribePayload) -> None:
        results = self.application.run(op_id, payload)
        # A subscription's frame stays suspended for its whole life: keep
        # not the subscribe message (the operation drops its own reference).
        del payload
        await relay(
            self,
            op_id,
            results,
            frame=lambda result: orjson.dumps({"id": op_id, "type": "next", "payload": result}),
            write=lambda message: self.transport.send_text(message, {}),
            complete=lambda: self.transport.send({"id": op_id, "type": "complete"}),
            fail=lambda errors: self.send_error(op_id, errors),
        )

    def send_error(self, op_id: str, errors: list[dict[str, Any]]) -> None:
        self.transport.send({"id": op_id, "type": "error", "payload": errors})

    # ------------------------------------------------------------ closing

    def init_timed_out(self) -> None:
        if self.state is State.AWAITING_INIT:
            self.close(INIT_TIMEOUT, "Connection initialisation timeout")

    def close(self, code: int, reason: str) -> None:
        if self.state is State.CLOSED:
            return
        self.transport.close(code, fit_reason(reason))
        self.closed()

    def closed(self) -> None:
        """The socket is gone: stop every operation."""
        self.state = State.CLOSED
        self.subscribed.clear()
        operations, self.operations = self.operations, {}
        for task in operations.values():
            task.cancel()
