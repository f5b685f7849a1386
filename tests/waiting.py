"""Waiting on a condition instead of sleeping for a guess of how long it takes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(condition: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    """Returns as soon as `condition()` is true; fails, saying `what` was
    awaited, if it is not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.01)
