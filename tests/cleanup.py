"""The check that a test served by the in-process app left nothing behind."""

from __future__ import annotations

import asyncio
import time

from tornado.ioloop import IOLoop

from app.services import Services

#: How long, after a test, the app may take to notice its sockets closed.
CLEANUP_SECONDS = 5.0


def leftovers(services: Services) -> dict[str, dict[object, int]]:
    """Topics that still have subscribers, and keys presence still counts."""
    found: dict[str, dict[object, int]] = {}
    if topics := services.registry.topics():
        found["subscribers left in the registry"] = dict(topics)
    if counted := services.presence.local:
        found["presence still counting"] = dict(counted)
    return found


def assert_nothing_left(
    io_loop: IOLoop, services: Services, timeout: float = CLEANUP_SECONDS
) -> None:
    """Waits (closes are asynchronous) until no topic has a subscriber and
    presence counts nothing; fails saying what is left after `timeout`."""

    async def settle() -> None:
        deadline = time.monotonic() + timeout
        while leftovers(services) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    io_loop.run_sync(settle)
    left = leftovers(services)
    assert not left, f"left behind after the test: {left}"
