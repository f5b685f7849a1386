"""Writing frames to WebSockets: built once, bounded per socket.

Two jobs, both on the hot path of every broadcast:

- Speed. Tornado's `write_message` frames the message and allocates a Task
  and Futures for every socket (~12 µs each), and even a plain
  `IOStream.write` copies the bytes into its buffer and resolves a Future.
  A broadcast sends the same bytes to many sockets, so here the RFC 6455
  frame is built once per distinct message (cached in the publish's
  `shared` dict), and when nothing is queued for a socket it is handed to
  `send()` directly; only a remainder the kernel did not take goes through
  the stream's buffer, which keeps the order of everything after it.
- Safety. A client that stops reading would otherwise make the server
  buffer every event for it without end. Before each write we look at how
  many bytes already wait in the socket's stream; past `MAX_PENDING_BYTES`
  the socket is closed with 1013 (try again later), on which standard
  clients reconnect and start afresh. Only bytes that wait count: one
  message on a socket that has nothing waiting is written whatever its
  size (a large result is not slowness; the protocol bounds results,
  app.protocols.graphql_ws.MAX_RESULT_BYTES).

This leans on Tornado internals (`handler.ws_connection.stream`, the
stream's `socket`, `_write_buffer` and `_total_write_index`, and an
uncompressed connection's framing), so
Tornado is pinned to its minor version in requirements.txt, and
tests/test_writer.py fails loudly if they move.

Corking. A batch of events (app.realtime.registry) may send a socket
several frames in a row; one `send()` per frame would be one syscall and
one TCP segment each. Inside
`Cork()` frames are held per socket and each socket is written once when
the block ends, its frames joined in order. The bound still holds: bytes
that already wait in the stream plus the ones held count against it, and a
socket holding `MAX_PENDING_BYTES` is written at once, so no more than that
is ever held for one socket.
"""

from __future__ import annotations

import struct
from asyncio import Future
from typing import Any

from tornado.iostream import IOStream, StreamClosedError
from tornado.websocket import WebSocketHandler

from app import metrics

MAX_PENDING_BYTES = 1024 * 1024
TRY_AGAIN_LATER = 1013
SLOW_CONSUMER_REASON = "Too slow: over 1 MiB of events waited for this socket; reconnect."
_TEXT_FIN = 0x81  # FIN bit and the text opcode


def text_frame(message: bytes) -> bytes:
    """An unmasked, unfragmented RFC 6455 text frame (server to client)."""
    length = len(message)
    if length < 126:
        return bytes((_TEXT_FIN, length)) + message
    if length <= 0xFFFF:
        return struct.pack("!BBH", _TEXT_FIN, 126, length) + message
    return struct.pack("!BBQ", _TEXT_FIN, 127, length) + message


def pending_bytes(handler: WebSocketHandler) -> int:
    """Bytes written to this socket that the kernel has not taken yet."""
    connection: Any = handler.ws_connection
    if connection is None or connection.stream.closed():
        return 0
    return len(connection.stream._write_buffer)


#: While corked: per socket, the frames held for it (one frame as it is,
#: more joined), in the order they were sent.
_held: dict[WebSocketHandler, bytes | bytearray] | None = None


class Cork:
    """`with Cork():` holds every socket's frames until the block ends,
    then writes each socket once. Nested blocks join the outermost one.
    (A class, not a generator: entered once per recipient of a batch.)"""

    __slots__ = ("outer",)

    def __enter__(self) -> None:
        global _held
        self.outer = _held is None
        if self.outer:
            _held = {}

    def __exit__(self, *exc_info: object) -> None:
        global _held
        if not self.outer:
            return
        held, _held = _held, None
        _flush(held or {})


def send_text(
    handler: WebSocketHandler,
    message: bytes,
    shared: dict[object, object] | None = None,
    limit: int = MAX_PENDING_BYTES,
) -> bool:
    """Writes one serialised text message; False when the socket is closed
    or too slow (a slow one is closed here with 1013; its on_close cleans
    up). `shared` caches the frame for every socket of one publish."""
    connection: Any = handler.ws_connection
    if connection is None or connection.is_closing():
        return False
    if connection._compressor is not None:  # never negotiated here; kept correct anyway
        connection.write_message(message).add_done_callback(_observe)
        return True
    frame = shared.get(message) if shared is not None else None
    if not isinstance(frame, bytes):  # the frame of `message`, unless not built yet
        frame = text_frame(message)
        if shared is not None:
            shared[message] = frame
    stream = connection.stream
    queued = len(stream._write_buffer)
    held = _held
    before = held.get(handler) if held is not None else None
    if before is not None and len(before) + len(frame) > limit:
        # Hold no more than the bound: what is held goes now, then this.
        del held[handler]  # type: ignore[union-attr]
        _write(stream, before, queued)
        return send_text(handler, message, shared, limit)
    waiting = queued + (len(before) if before is not None else 0)
    # Only bytes that wait in the stream count as slowness: held ones were
    # never offered to the kernel.
    if queued and waiting + len(frame) > limit:
        if before is not None:
            del held[handler]  # type: ignore[union-attr]
        metrics.slow_consumer_disconnects.inc()
        handler.close(TRY_AGAIN_LATER, SLOW_CONSUMER_REASON)
        return False
    if held is None:
        return _write(stream, frame, queued)
    if before is None:
        held[handler] = frame
    elif type(before) is bytes:
        joined = held[handler] = bytearray(before)  # (from the second frame on)
        joined += frame
    else:
        before += frame
    return True


def _flush(held: dict[WebSocketHandler, bytes | bytearray]) -> None:
    """Writes what a cork held, each socket once, unless it closed meanwhile."""
    for handler, data in held.items():
        connection: Any = handler.ws_connection
        if connection is not None and not connection.is_closing():
            stream = connection.stream
            _write(stream, data, len(stream._write_buffer))


def _write(stream: IOStream, data: bytes | bytearray, queued: int) -> bool:
    """Hands `data` (whole frames) to the socket: behind the `queued` bytes
    its stream already holds, else straight to `send()`; the stream
    buffers what the kernel did not take. False if it is closed."""
    if queued:
        # The stream already waits to write and will flush its whole buffer:
        # append to it directly. (stream.write would add a Future with a
        # callback per frame, ~20 MB for 20 stalled sockets at the cap.)
        stream._write_buffer.append(data)
        stream._total_write_index += len(data)
        return True
    rest: bytes | memoryview = data if type(data) is bytes else memoryview(data)
    if type(stream) is IOStream:  # plain TCP; TLS goes the long way
        try:
            sent = stream.socket.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            stream.close(exc_info=True)  # reset by the peer: on_close cleans up
            return False
        if sent == len(data):
            return True
        rest = memoryview(data)[sent:]
    try:
        stream.write(rest)  # its Future already swallows a late close
    except StreamClosedError:
        return False
    return True


def _observe(future: Future[None]) -> None:
    """Marks a write's outcome as seen: a socket closing under a write is
    normal (its on_close cleans up) and not worth a log line."""
    if not future.cancelled():
        future.exception()
