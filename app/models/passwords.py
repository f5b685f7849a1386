"""Password hashing with argon2id, off the event loop.

One hash costs about 0.17 s of CPU and 64 MiB here (argon2-cffi's
RFC 9106 low-memory profile): run on the IOLoop it would freeze every
socket for that long. So hashing runs in small dedicated thread pools,
which also cap the memory that a burst can take (three hashes at once,
192 MiB):

- sign-ins verify in a pool of two workers of their own, so that they
  never wait behind sign-ups;
- sign-ups hash in a pool of one worker, and at most
  `SIGN_UP_HASHES_WAITING` of them may be queued or running: past that
  `hash_password` refuses at once (`HashingBusy`) rather than make every
  later sign-up wait longer.

argon2 compares in constant time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: Sign-up hashes queued or running at most (about 3 s of work).
SIGN_UP_HASHES_WAITING = 16

T = TypeVar("T")

_hasher = PasswordHasher()
#: Verified against when the username is unknown, so that an unknown user
#: and a wrong password take the same time.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


class HashingBusy(Exception):
    """As many sign-up hashes as allowed are already queued."""


class _BoundedPool:
    """A thread pool that refuses work past `limit` queued or running jobs.

    The count is kept on the IOLoop thread (callers await `run` there);
    the workers never touch it.
    """

    def __init__(self, workers: int, limit: int, name: str) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self.limit = limit
        self.waiting = 0

    async def run(self, function: Callable[..., T], *args: object) -> T:
        if self.waiting >= self.limit:
            raise HashingBusy
        self.waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)
        finally:
            self.waiting -= 1


_verify_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2-verify")
_sign_up_pool = _BoundedPool(1, SIGN_UP_HASHES_WAITING, "argon2-hash")


async def hash_password(password: str) -> str:
    """The hash to store; raises HashingBusy when the queue is full."""
    return await _sign_up_pool.run(_hasher.hash, password)


def _verify(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; a None hash takes as long and fails."""
    return await asyncio.get_running_loop().run_in_executor(
        _verify_pool, _verify, stored_hash, password
    )
