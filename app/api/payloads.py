"""What one GraphQL operation is asked with, and how it fails as a whole.

Shared by the side that runs operations (app.api.operations) and the wire
protocols above it (app.protocols.graphql_ws), which is why it lives in the
api layer and imports nothing: the protocols depend on the api, never the
reverse.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class SubscribePayload(TypedDict):
    #: Absent when `extensions.persistedQuery` names the query by its hash.
    query: NotRequired[str]
    operationName: NotRequired[str | None]
    variables: NotRequired[dict[str, Any] | None]
    extensions: NotRequired[dict[str, Any] | None]


class OperationError(Exception):
    """The operation failed as a whole: the client gets an `error` message."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"] if errors else "operation failed")
        self.errors = errors
