"""Automatic persisted queries: Apollo's protocol, over HTTP and the socket.

A client sends `extensions.persistedQuery = {"version": 1, "sha256Hash":
…}`, the SHA-256 of its query text in hex, at first without the query. A
server that knows the hash runs the query it stands for; one that does not
answers `PersistedQueryNotFound` (code PERSISTED_QUERY_NOT_FOUND), and the
client sends the query with its hash once, which the server checks and
keeps. So a hot query crosses the network once per process, not once per
request, and a GET with only a hash is short enough for any proxy's cache.

The store is per process and bounded, by entries and by bytes, least
recently used out: after a restart, or behind a load balancer, a client is
told "not found" once and sends the query again, as the protocol expects.
Only documents that parse and validate are kept (the caller says so with
`remember`), so refused text fills nothing.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Mapping
from typing import Any

from app.api.errors import BAD_USER_INPUT
from app.api.lru import SizedLRU

#: The protocol's own code and message, which Apollo's link and other
#: clients look for by name.
PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
VERSION = 1
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


class PersistedQueryError(Exception):
    """The request's persisted query cannot be used; `code` says why."""

    def __init__(self, message: str, code: str = BAD_USER_INPUT) -> None:
        super().__init__(message)
        self.code = code


def requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    """The hash a request names in `extensions.persistedQuery`, checked;
    None when it names none."""
    asked = (extensions or {}).get("persistedQuery")
    if asked is None:
        return None
    if not isinstance(asked, dict) or asked.get("version") != VERSION:
        raise PersistedQueryError(
            f"extensions.persistedQuery must be {{version: {VERSION}, sha256Hash: …}}; "
            f"version {VERSION} is the only one supported."
        )
    sha = asked.get("sha256Hash")
    if not isinstance(sha, str) or not _HEX_SHA256.fullmatch(sha.lower()):
        raise PersistedQueryError(
            "extensions.persistedQuery.sha256Hash must be the query's SHA-256 as 64 hex digits."
        )
    return sha.lower()


def sha256_of(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class PersistedQueries(SizedLRU[str]):
    """SHA-256 hash -> query text, bounded, least recently used out."""

    def query_for(self, sha: str, query: str | None) -> str:
        """The query text to run for a request naming `sha`: the one it
        sent, if it matches the hash, or the one kept under the hash."""
        if query is not None:
            if sha256_of(query) != sha:
                raise PersistedQueryError(
                    "extensions.persistedQuery.sha256Hash does not match the query sent "
                    "with it: the hash must be the SHA-256 of the query text, as sent."
                )
            return query
        kept = self.lookup(sha)
        if kept is None:
            raise PersistedQueryError(NOT_FOUND_MESSAGE, PERSISTED_QUERY_NOT_FOUND)
        return kept

    def remember(self, sha: str, query: str) -> None:
        """Keeps `query` under its hash (it parsed and validated)."""
        self.keep(sha, query, sys.getsizeof(query))
