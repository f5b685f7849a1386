"""Password hashing with argon2id, off the event loop.

One hash costs about 0.17 s of CPU and 64 MiB here (argon2-cffi's
RFC 9106 low-memory profile): run on the IOLoop it would freeze every
socket for that long. So hashing runs in a small dedicated thread pool of
two workers, which also caps the memory that a burst of sign-ins can take.
argon2 compares in constant time.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")
#: Verified against when the username is unknown, so that an unknown user
#: and a wrong password take the same time.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, _hasher.hash, password)


def _verify(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; a None hash takes as long and fails."""
    return await asyncio.get_running_loop().run_in_executor(_pool, _verify, stored_hash, password)
