"""A clean stop on SIGTERM (the platform's stop) or SIGINT.

Stop accepting connections, close every socket with 1012 (service
restart: standard clients reconnect on it, to another process or to this
one's successor), let requests in flight finish, and be gone within 10 s
(Heroku kills a process 30 s after SIGTERM; we leave room).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from tornado.httpserver import HTTPServer

from app.services import Services

log = logging.getLogger(__name__)

SERVICE_RESTART = 1012
GRACE_SECONDS = 8.0


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
    for socket in sockets:
        socket.close(SERVICE_RESTART, "Server restarting; reconnect")
    deadline = asyncio.get_running_loop().time() + GRACE_SECONDS
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
