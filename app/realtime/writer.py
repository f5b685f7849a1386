"""Writing frames to WebSockets, with a bound on what may wait for one.

A client that stops reading would otherwise make the server buffer every
event for it without end. Before each write we look at how many bytes
already wait in the socket's stream; past `MAX_PENDING_BYTES` the socket
is closed with 1013 (try again later), on which standard clients
reconnect and start afresh.

This leans on Tornado internals (`handler.ws_connection.stream` and the
stream's `_write_buffer`), so Tornado is pinned to its minor version in
requirements.txt and tests/test_writer.py fails loudly if they move.
"""

from __future__ import annotations

from asyncio import Future
from typing import Any

from tornado.websocket import WebSocketHandler

MAX_PENDING_BYTES = 1024 * 1024
TRY_AGAIN_LATER = 1013
SLOW_CONSUMER_REASON = "Too slow: over 1 MiB of events waited for this socket; reconnect."


def pending_bytes(handler: WebSocketHandler) -> int:
    """Bytes written to this socket that the kernel has not taken yet."""
    connection: Any = handler.ws_connection
    if connection is None or connection.stream.closed():
        return 0
    return len(connection.stream._write_buffer)


def send(handler: WebSocketHandler, frame: bytes, limit: int = MAX_PENDING_BYTES) -> bool:
    """Writes one text frame; False when the socket is closed or too slow.

    A slow socket is closed here with 1013; its `on_close` cleans up.
    """
    connection = handler.ws_connection
    if connection is None or connection.is_closing():
        return False
    if pending_bytes(handler) + len(frame) > limit:
        handler.close(TRY_AGAIN_LATER, SLOW_CONSUMER_REASON)
        return False
    connection.write_message(frame).add_done_callback(_observe)
    return True


def _observe(future: Future[None]) -> None:
    """Marks a write's outcome as seen: a socket closing under a write is
    normal (its on_close cleans up) and not worth a log line."""
    if not future.cancelled():
        future.exception()
