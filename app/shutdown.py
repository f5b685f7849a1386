"""A clean stop on SIGTERM (the platform's stop) or SIGINT.

Stop accepting connections, close every socket with 1012 (service
restart: standard clients reconnect on it, to another process or to this
one's successor), let requests in flight finish, and be gone within 10 s
(Heroku kills a process 30 s after SIGTERM; we leave room).

A socket closes only once the operation it is running has been answered,
and runs nothing new meanwhile: every change applied is acknowledged to
the client that asked for it, and a change not acknowledged was not made.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Protocol

from tornado.httpserver import HTTPServer

from app.services import Services

log = logging.getLogger(__name__)

SERVICE_RESTART = 1012
GRACE_SECONDS = 8.0


class Socket(Protocol):
    async def close_for_restart(self, code: int, reason: str) -> None:
        """Closes once the operations in flight are answered, starting no more."""

    def close(self, code: int, reason: str) -> None: ...


async def wait_for_stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def drain(server: HTTPServer, services: Services) -> None:
    server.stop()
    sockets = list(services.sockets)
    log.info(
        "stopping: closing %d sockets, finishing %d requests in flight",
        len(sockets),
        len(services.requests),
    )
    deadline = asyncio.get_running_loop().time() + GRACE_SECONDS
    await _close_sockets(sockets, GRACE_SECONDS)
    # Tornado's close_all_connections() would cut requests off mid-way.
    while services.requests and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    if services.requests:
        log.warning("stopping with %d requests unfinished", len(services.requests))
    remaining = max(0.1, deadline - asyncio.get_running_loop().time())
    try:
        await asyncio.wait_for(server.close_all_connections(), remaining)
    except TimeoutError:
        log.warning("stopped with connections still open after %.0f s", GRACE_SECONDS)
    log.info("stopped")


async def _close_sockets(sockets: list[Socket], grace: float) -> None:
    """Closes every socket with 1012 once its operations in flight are
    answered; any still busy after `grace` seconds is closed anyway."""
    reason = "Server restarting; reconnect"
    closing = [
        asyncio.ensure_future(socket.close_for_restart(SERVICE_RESTART, reason))
        for socket in sockets
    ]
    if closing:
        done, late = await asyncio.wait(closing, timeout=grace)
        for task in late:
            task.cancel()
        for task in done:
            if (error := task.exception()) is not None:
                log.error("closing a socket failed", exc_info=error)
    for socket in sockets:
        socket.close(SERVICE_RESTART, reason)  # (nothing for one already closed)
