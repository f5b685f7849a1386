"""Sign-in and sign-up attempts, limited per client address.

Failed sign-ins are counted in a sliding window per (username, address)
and per address: past either limit, further attempts are refused before
the (deliberately slow) password hash is even computed, with a message
that says how long to wait. Counting per username alone would let anyone
who knows a username lock its owner out; this way a stranger's failures
throttle only the stranger's address, while guessing one password from
one address, or many usernames from one address, is still slowed down.
A success clears the count of that username at that address (not the
address's: signing in to one's own account must not buy more guesses).

Sign-ups are counted per address too, each one that keeps the rules and
finds its username free (it then costs a password hash). An IPv6 client
is counted by its /64 network, as one host commonly holds all of it.

State lives in this process's memory, bounded: keys are at most
`MAX_KEY_LENGTH` characters (longer ones are kept as their digest) and
at most `MAX_KEYS` per limit are remembered, the least recently used
forgotten first. With several processes each keeps its own count, so the
effective limit multiplies by their number (docs/SECURITY.md).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable

from app.models.errors import Forbidden

SIGN_IN_WINDOW = 15 * 60
#: Failed sign-ins to one username from one address, per window.
PER_USERNAME_AND_ADDRESS = 5
#: Failed sign-ins from one address, whatever the usernames, per window.
PER_ADDRESS = 20
SIGN_UP_WINDOW = 60 * 60
#: Sign-ups from one address per window.
SIGN_UPS_PER_ADDRESS = 20
#: Keys remembered at most per limit, so that a flood of names or addresses
#: cannot grow memory (about 25 MB per limit when full).
MAX_KEYS = 50_000
#: Longer keys are remembered by their digest, which is this long.
MAX_KEY_LENGTH = 64


class TooManyAttempts(Forbidden):
    """Refused for now; `retry_after` says for how many seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def bounded_key(key: str) -> str:
    """`key` itself when short, else its digest (33 characters)."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "#" + hashlib.blake2b(key.encode(errors="surrogatepass"), digest_size=16).hexdigest()


class Throttle:
    """At most `limit` events per key in any `window` seconds."""

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        #: Recent events' times by key, the least recently touched key first;
        #: only the last `limit` times matter, so no more are kept (packed
        #: in an array: a third of the memory of a deque of floats).
        self.events: OrderedDict[str, array[float]] = OrderedDict()

    def wait(self, key: str) -> int:
        """Seconds until `key` may try again (0: now)."""
        attempts = self.events.get(bounded_key(key))
        if not attempts:
            return 0
        now = self.clock()
        expired = 0
        while expired < len(attempts) and attempts[expired] <= now - self.window:
            expired += 1
        del attempts[:expired]
        if len(attempts) < self.limit:
            return 0
        return max(1, math.ceil(attempts[0] + self.window - now))

    def count(self, key: str) -> None:
        """Counts one event against `key`."""
        key = bounded_key(key)
        attempts = self.events.get(key)
        if attempts is None:
            while len(self.events) >= self.max_keys:
                self.events.popitem(last=False)
            attempts = self.events[key] = array("d")
        else:
            self.events.move_to_end(key)
        attempts.append(self.clock())
        del attempts[: -self.limit]

    def clear(self, key: str) -> None:
        self.events.pop(bounded_key(key), None)


pairs = Throttle(PER_USERNAME_AND_ADDRESS, SIGN_IN_WINDOW)
addresses = Throttle(PER_ADDRESS, SIGN_IN_WINDOW)
sign_ups = Throttle(SIGN_UPS_PER_ADDRESS, SIGN_UP_WINDOW)


def limiters() -> tuple[Throttle, ...]:
    return (pairs, addresses, sign_ups)


def reset() -> None:
    """Forgets every count (a new application starts afresh)."""
    for limiter in limiters():
        limiter.events.clear()


def client_key(address: str | None) -> str:
    """What one client's attempts are counted under: its address, or for
    IPv6 its /64 network (one host commonly holds a whole /64, and could
    otherwise take a fresh address for every attempt)."""
    if not address:
        return ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address


def _pair(username: str, address: str | None) -> str:
    return f"{client_key(address)} {username.lower()}"


def _refuse(what: str, wait: int) -> TooManyAttempts:
    minutes = math.ceil(wait / 60)
    return TooManyAttempts(
        f"{what}; try again in {minutes} minute{'s' if minutes != 1 else ''} ({wait} s).",
        retry_after=wait,
    )


def check(username: str, address: str | None) -> None:
    """Refuses a sign-in for a throttled username at this address, or from
    a throttled address."""
    wait = max(
        pairs.wait(_pair(username, address)),
        addresses.wait(client_key(address)) if address else 0,
    )
    if wait:
        raise _refuse("Too many failed sign-ins", wait)


def record(username: str, address: str | None, succeeded: bool) -> None:
    if succeeded:
        pairs.clear(_pair(username, address))
        return
    pairs.count(_pair(username, address))
    if address:
        addresses.count(client_key(address))


def check_sign_up(address: str | None) -> None:
    """Refuses a sign-up from an address that has made too many lately."""
    wait = sign_ups.wait(client_key(address)) if address else 0
    if wait:
        raise _refuse("Too many sign-ups from your address", wait)


def record_sign_up(address: str | None) -> None:
    if address:
        sign_ups.count(client_key(address))
