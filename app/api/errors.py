"""GraphQL errors as clients see them: a message and `extensions.code`.

Domain refusals keep their message and get the code of their kind. Any
other exception is a bug: the client gets INTERNAL_SERVER_ERROR and a
fixed message, and the traceback goes to the log, never to the client.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from app.models.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger(__name__)

BAD_USER_INPUT = "BAD_USER_INPUT"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
#: The document is not GraphQL.
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
#: The document is GraphQL but not valid against the schema.
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"

_CODES: tuple[tuple[type[DomainError], str], ...] = (
    (InvalidInput, BAD_USER_INPUT),
    (NotFound, NOT_FOUND),
    (Unauthenticated, UNAUTHENTICATED),
    (Forbidden, FORBIDDEN),
    (Unavailable, INTERNAL_SERVER_ERROR),
)


def code_of(error: DomainError) -> str:
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return BAD_USER_INPUT


def request_error(message: str, code: str) -> GraphQLError:
    """An error about the request as a whole (no path, no data)."""
    return GraphQLError(message, extensions={"code": code})


def format_error(error: GraphQLError, default_code: str) -> dict[str, Any]:
    """The JSON form of `error`; `default_code` is for errors the GraphQL
    engine raised itself (syntax, validation, variable coercion)."""
    original = error.original_error
    extensions: dict[str, Any]
    if original is None or isinstance(original, GraphQLError):
        formatted = error.formatted
        extensions = dict(formatted.get("extensions") or {})
        # A scalar that refuses a value says why, with its own code, and the
        # engine wraps that error in one of its own (app.api.scalars).
        if isinstance(original, GraphQLError) and original.extensions:
            extensions = {**original.extensions, **extensions}
        extensions.setdefault("code", default_code)
        formatted["extensions"] = extensions
        return dict(formatted)
    if isinstance(original, DomainError):
        formatted = error.formatted
        formatted["message"] = str(original)
        extensions = {"code": code_of(original)}
        retry_after = getattr(original, "retry_after", None)
        if retry_after is not None:
            extensions["retryAfter"] = retry_after
        formatted["extensions"] = extensions
        return dict(formatted)
    log.error(
        "unexpected error resolving %s",
        error.path,
        exc_info=(type(original), original, original.__traceback__),
    )
    formatted = error.formatted
    formatted["message"] = "Internal server error."
    formatted["extensions"] = {"code": INTERNAL_SERVER_ERROR}
    return dict(formatted)
