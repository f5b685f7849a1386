"""Sign-in attempts, limited per username and per address.

Failed sign-ins are counted in a sliding window: past the limit, further
attempts are refused before the (deliberately slow) password hash is even
computed, with a message that says how long to wait. A success clears the
username's count. State lives in this process's memory: with several
processes each keeps its own count, so the effective limit multiplies by
their number (docs/SECURITY.md).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from app.models.errors import Forbidden

WINDOW_SECONDS = 15 * 60
PER_USERNAME = 5
PER_ADDRESS = 20
#: Keys remembered at most, so that a flood of names cannot grow memory.
MAX_KEYS = 100_000


class TooManyAttempts(Forbidden):
    """Sign-in refused for now; `retry_after` says for how many seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Throttle:
    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.failures: dict[str, deque[float]] = {}

    def wait(self, key: str) -> int:
        """Seconds until `key` may try again (0: now)."""
        attempts = self.failures.get(key)
        if not attempts:
            return 0
        now = self.clock()
        while attempts and attempts[0] <= now - self.window:
            attempts.popleft()
        if len(attempts) < self.limit:
            return 0
        return max(1, math.ceil(attempts[0] + self.window - now))

    def failed(self, key: str) -> None:
        if len(self.failures) >= MAX_KEYS:
            for old in list(self.failures)[: MAX_KEYS // 2]:
                del self.failures[old]
        self.failures.setdefault(key, deque()).append(self.clock())

    def clear(self, key: str) -> None:
        self.failures.pop(key, None)


usernames = Throttle(PER_USERNAME, WINDOW_SECONDS)
addresses = Throttle(PER_ADDRESS, WINDOW_SECONDS)


def reset() -> None:
    """Forgets every count (a new application starts afresh)."""
    usernames.failures.clear()
    addresses.failures.clear()


def check(username: str, address: str | None) -> None:
    """Refuses an attempt from a throttled username or address."""
    wait = max(usernames.wait(username.lower()), addresses.wait(address) if address else 0)
    if wait:
        minutes = math.ceil(wait / 60)
        raise TooManyAttempts(
            f"Too many failed sign-ins; try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''} ({wait} s).",
            retry_after=wait,
        )


def record(username: str, address: str | None, succeeded: bool) -> None:
    if succeeded:
        usernames.clear(username.lower())
        return
    usernames.failed(username.lower())
    if address:
        addresses.failed(address)
