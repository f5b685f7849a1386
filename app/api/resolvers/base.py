"""The request context, and the default field resolver."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from graphql import GraphQLResolveInfo

from app.api.budget import Budget
from app.models.auth_token import AuthToken
from app.models.user import User


class SessionHooks(Protocol):
    """What a transport does when a resolver signs someone in or out
    (over HTTP: set or clear the session cookie)."""

    def signed_in(self, credential: AuthToken, token: str) -> None: ...

    def signed_out(self) -> None: ...


class NoSession:
    """For transports without cookies: sockets."""

    def signed_in(self, credential: AuthToken, token: str) -> None:
        pass

    def signed_out(self) -> None:
        pass


class PresenceCounts(Protocol):
    """Presence (app.realtime.presence), as far as resolvers need it."""

    def enter(self, key: tuple[str, ...], member: str | None = None) -> None: ...

    def leave(self, key: tuple[str, ...], member: str | None = None) -> None: ...

    def current(self, key: tuple[str, ...]) -> int | None: ...

    def members(self, key: tuple[str, ...]) -> tuple[str, ...] | None: ...

    async def count(self, key: tuple[str, ...]) -> int: ...

    async def watching(self, key: tuple[str, ...]) -> tuple[int, tuple[str, ...] | None]: ...


@dataclass(slots=True)
class Context:
    """What every resolver may know about the request it serves.

    One builder per transport fills it (see app.web.auth), and HTTP and
    WebSocket operations run through the same executor with it.
    """

    viewer: User | None = None
    #: The credential this request was made with, if any.
    credential: AuthToken | None = None
    #: The credential the request presented if it has been revoked: only a
    #: retried signOut may use it, to find the sign-out it retries
    #: (app.models.account_requests); to everything else the request is
    #: anonymous (a stale cookie) or was refused (a bearer token: 401).
    revoked: AuthToken | None = None
    session: SessionHooks = field(default_factory=NoSession)
    #: The client's address (for limits such as sign-in attempts).
    address: str | None = None
    #: Watchers and tabs across processes; None where nothing counts.
    presence: PresenceCounts | None = None
    #: The time the operation being executed may still take (app.api.budget);
    #: the executor sets it on its own copy of the context.
    budget: Budget | None = None


@lru_cache(maxsize=1024)
def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def resolve_field(source: Any, info: GraphQLResolveInfo, **_args: Any) -> Any:
    """Reads `fieldName` from a dict, or `field_name` from an object.

    A callable stored in a dict is called (lazily computed values, such as
    a connection's `totalCount`); attributes are never called, so a
    model's methods cannot be reached from a query.
    """
    name = info.field_name
    if isinstance(source, dict):
        value = source.get(name)
        return value() if callable(value) else value
    return getattr(source, snake_case(name), None)
