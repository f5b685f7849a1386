"""The HTTP server: time limits for slow clients, and an accept loop that
waits when file descriptors run out.

Time limits (settings `http_idle_timeout`, `http_body_timeout`): a
connection that sends nothing, or sends its request head a byte at a
time, or stalls in the middle of a body, is closed, so it cannot hold a
descriptor for ever. Tornado measures the head from the moment the
connection is ready for a request (opened, or its last response sent),
so one limit covers idle keep-alive connections and slow headers alike.
A WebSocket, once upgraded, is outside both: its pings watch it.

Out of descriptors (EMFILE and kin), Tornado's accept handler raises and
the listening socket stays readable, so the event loop calls it again at
once: a busy loop writing a traceback per turn. Here accepting pauses
instead for `PAUSE_SECONDS` at a time (connections wait in the kernel's
backlog meanwhile), with one warning when descriptors run out and one
line when accepting works again.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

import tornado.httpserver
import tornado.web
from tornado.ioloop import IOLoop

from app.config import Settings

log = logging.getLogger(__name__)

#: Bodies other than GraphQL's (capped at 1 MiB by their handler, with a
#: clear 413) stop here.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Accept errors that mean "not now": the process or system is out of a
#: resource that closing connections gives back.
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
PAUSE_SECONDS = 0.5
#: Connections accepted per wake-up at most, as Tornado does, so that a
#: flood of them does not starve the rest of the loop.
ACCEPTS_PER_WAKEUP = 128


class _Acceptor:
    """Accepts connections on one listening socket, pausing when out of
    descriptors. Runs on the IOLoop thread only."""

    def __init__(
        self, sock: socket.socket, on_connection: Callable[[socket.socket, Any], None]
    ) -> None:
        self.sock = sock
        self.on_connection = on_connection
        self.io_loop = IOLoop.current()
        self.removed = False
        self.pause: object | None = None
        #: When the current shortage began; None while accepting works.
        self.short_since: float | None = None
        self.io_loop.add_handler(sock, self.accept, IOLoop.READ)

    def accept(self, _fd: object, _events: int) -> None:
        for _ in range(ACCEPTS_PER_WAKEUP):
            if self.removed or self.pause is not None:
                return
            try:
                connection, address = self.sock.accept()
            except BlockingIOError:
                return  # every waiting connection is accepted
            except ConnectionAbortedError:
                continue  # closed by the client while in the backlog
            except OSError as error:
                if error.errno not in OUT_OF_RESOURCES:
                    raise
                self.wait(error)
                return
            if self.short_since is not None:
                log.info(
                    "accepting connections again after %.1f s short of file descriptors",
                    self.io_loop.time() - self.short_since,
                )
                self.short_since = None
            self.on_connection(connection, address)

    def wait(self, error: OSError) -> None:
        if self.short_since is None:
            self.short_since = self.io_loop.time()
            log.warning(
                "out of file descriptors (%s): new connections wait until some close; "
                "trying again every %.1f s",
                error.strerror,
                PAUSE_SECONDS,
            )
        self.io_loop.remove_handler(self.sock)
        self.pause = self.io_loop.call_later(PAUSE_SECONDS, self.resume)

    def resume(self) -> None:
        self.pause = None
        if not self.removed:
            self.io_loop.add_handler(self.sock, self.accept, IOLoop.READ)

    def remove(self) -> None:
        self.removed = True
        if self.pause is not None:
            self.io_loop.remove_timeout(self.pause)
            self.pause = None
        else:
            self.io_loop.remove_handler(self.sock)


class HTTPServer(tornado.httpserver.HTTPServer):
    """Tornado's HTTPServer, accepting through `_Acceptor`."""

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        # As TCPServer.add_sockets does, with the accept handler above.
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = _Acceptor(sock, self._handle_connection).remove


def listen(app: tornado.web.Application, settings: Settings) -> HTTPServer:
    """Serves `app` on the configured host and port."""
    server = HTTPServer(
        app,
        max_body_size=MAX_BODY_BYTES,
        idle_connection_timeout=settings.http_idle_timeout,
        body_timeout=settings.http_body_timeout,
    )
    server.listen(settings.port, settings.host)
    return server
