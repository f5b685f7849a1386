"""GraphQL over HTTP at `/graphql`, as the GraphQL over HTTP spec says.

Status codes follow the spec's rules as the `graphql-http` audit checks
them (the 2025 rules): a request that cannot be executed (bad JSON or
parameters, a syntax or validation error, an unknown operation, bad
variables) is 400 when the client accepts
`application/graphql-response+json`, and 200 with `application/json`,
whose clients expect 200 for every well-formed request. Bad JSON and bad
parameters are 400 either way. (The 2026 draft moves some of these to
422; we follow the audit until it does.)

The POST path is the hot one (every mutation), so what a client repeats
in every request is worked out once: the Accept and Content-Type header
values a client sends are judged once per distinct value (a few kept),
and the query, parsed, validated and planned, comes from the executor's
cache (app.api.plan). Security checks are not skipped: each request's
credential, body size and media types are checked as before.

A revoked bearer token is refused (401) like any invalid one, except in a
mutation of `signOut` alone: a retried sign-out presents the token its
first attempt revoked, and is answered true again when it carries the same
key (app.models.account_requests); without the key it is answered false,
as any sign-out without a live credential is.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

import orjson
import tornado.web
from graphql import FieldNode, OperationType

from app.api.errors import BAD_USER_INPUT, INTERNAL_SERVER_ERROR, UNAUTHENTICATED
from app.api.execution import GraphQLRequest, Prepared, RequestFailure
from app.api.schema import type_summaries
from app.ids import to_global_id
from app.models.auth_token import AuthToken
from app.web.auth import CookieSession, InvalidCredential, build_context, presented_credential
from app.web.base import BaseHandler
from app.web.request_body import BoundedBody
from app.web.security import allow_cross_origin, allowed_origin

GRAPHQL_RESPONSE = "application/graphql-response+json"
EXAMPLE = """subscription Watch {
  counter(name: "hello") {
    type
    value
    actor { username }
  }
}"""
JSON = "application/json"


class BadRequest(Exception):
    """The request is not a well-formed GraphQL-over-HTTP request."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@lru_cache(maxsize=64)
def negotiate(accept: str) -> str | None:
    """The response media type for an Accept header, or None (406).

    An absent Accept is `*/*`; `application/json` wins ties, as the
    audit expects of servers that also serve older clients. (Kept for a
    few distinct headers: a client sends the same one every time.)
    """
    if not accept.strip():
        return JSON
    for item in accept.split(","):
        media = item.split(";", 1)[0].strip().lower()
        if media == GRAPHQL_RESPONSE:
            return GRAPHQL_RESPONSE
        if media in (JSON, "application/*", "*/*"):
            return JSON
    return None


@lru_cache(maxsize=64)
def is_json_utf8(content_type: str) -> bool:
    """Whether a Content-Type header says JSON in UTF-8 (the only body
    /graphql takes: app/web/auth.py says why). Kept for a few values."""
    media, _, rest = content_type.partition(";")
    charset = rest.strip().lower().removeprefix("charset=").strip('"') if rest else "utf-8"
    return media.strip().lower() == JSON and charset in ("utf-8", "utf8")


def _optional_object(params: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(f"`{key}` must be a JSON object or null.")
    return value


def signs_out_only(prepared: Prepared) -> bool:
    """Whether the operation is a mutation of `signOut` alone: the one
    operation a revoked bearer token may still make."""
    return prepared.kind is OperationType.MUTATION and all(
        isinstance(selection, FieldNode) and selection.name.value == "signOut"
        for selection in prepared.operation.selection_set.selections
    )


def parse_params(params: dict[str, Any]) -> GraphQLRequest:
    """Checks the request parameters' types (the spec's well-formedness)."""
    query = params.get("query")
    extensions = _optional_object(params, "extensions")
    if query is None and "persistedQuery" not in (extensions or {}):
        # (A persisted query may be named by its hash alone: app.api.persisted.)
        raise BadRequest("The request has no `query`: send the GraphQL document as `query`.")
    if query is not None and not isinstance(query, str):
        raise BadRequest("`query` must be a string holding a GraphQL document.")
    operation_name = params.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("`operationName` must be a string or null.")
    return GraphQLRequest(
        query=query,
        variables=_optional_object(params, "variables"),
        operation_name=operation_name or None,
        extensions=extensions,
    )


def _json_param(raw: str, key: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest(f"`{key}` must be JSON text in a GET request.") from None


def query_params(query: str) -> dict[str, Any]:
    """A GET request's parameters, from its query string."""
    params: dict[str, Any] = {key: values[-1] for key, values in parse_qs(query).items()}
    for key in ("variables", "extensions"):
        if key in params:
            params[key] = _json_param(params[key], key)
    return params


def json_body(content_type: str, raw: bytes) -> dict[str, Any]:
    """A POST request's parameters, from its JSON body."""
    if not is_json_utf8(content_type):
        raise BadRequest(
            f"POST bodies must be {JSON} (UTF-8); got {content_type or 'no Content-Type'}.",
            status=415,
        )
    if not raw:
        raise BadRequest("The request body is empty; send a JSON object with `query`.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("The request body is not valid UTF-8 JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object with `query`.")
    return body


@tornado.web.stream_request_body
class GraphQLHandler(BoundedBody, BaseHandler):
    """Streams request bodies so that one over `MAX_BODY_BYTES` is never
    buffered (app.web.request_body): it is refused with a 413 that says so."""

    SUPPORTED_METHODS = ("GET", "POST", "OPTIONS")
    media_type = JSON
    credential: AuthToken | None = None
    #: The revoked credential the request presents (Context.revoked).
    revoked: AuthToken | None = None
    #: A revoked bearer token's refusal, given unless the operation is a
    #: sign-out (`signs_out_only`).
    refusal: InvalidCredential | None = None

    def check_xsrf_cookie(self) -> None:
        """No xsrf token here: a JSON Content-Type is required instead,
        which no other site can send with a user's cookie (app/web/auth.py)."""

    def prepare(self) -> None:
        self.expect_body(self.request.headers.get("Content-Length"))
        if self.wants_explorer():
            return
        media_type = negotiate(self.request.headers.get("Accept", ""))
        if media_type is None:
            self.fail(
                406, f"This endpoint answers {GRAPHQL_RESPONSE} or {JSON}; Accept allows neither."
            )
            return
        self.media_type = media_type
        try:
            presented = presented_credential(self)
        except InvalidCredential as error:
            if error.revoked is None:
                self.fail(401, str(error), code=UNAUTHENTICATED)
                return
            self.refusal, presented = error, error.revoked
        if presented is not None and presented.live:
            self.credential = presented
        else:
            self.revoked = presented

    def set_default_headers(self) -> None:
        super().set_default_headers()
        # Runs before initialize(): read the services from the application.
        allow_cross_origin(self, self.settings["services"].settings.cors_origins)

    def options(self) -> None:
        """CORS preflight: granted to the origins in CORS_ORIGINS only."""
        if allowed_origin(self, self.services.settings.cors_origins) is None:
            self.fail(403, "This origin may not call /graphql from a browser (see CORS_ORIGINS).")
            return
        # PUT, DELETE and the last two headers: GraphQL over SSE (app.web.graphql_sse).
        self.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
        self.set_header(
            "Access-Control-Allow-Headers",
            "Content-Type, Authorization, Accept, X-GraphQL-Event-Stream-Token, Last-Event-ID",
        )
        self.set_header("Access-Control-Max-Age", "600")
        self.set_status(204)
        self.finish()

    def wants_explorer(self) -> bool:
        """A browser opening /graphql itself gets the explorer page."""
        return (
            self.request.method == "GET"
            and not self.request.query
            and "text/html" in self.request.headers.get("Accept", "")
        )

    async def get(self) -> None:
        if self.wants_explorer():
            self.render_page(
                "explorer.html",
                types=type_summaries(self.services.executor.schema),
                example=EXAMPLE,
            )
            return
        try:
            request = parse_params(query_params(self.request.query))
        except BadRequest as error:
            self.fail_request(error.status, str(error))
            return
        await self.answer(request, allow_mutations=False)

    async def post(self) -> None:
        if self.too_large:
            self.fail_request(413, self.too_large_message())
            return
        try:
            content_type = self.request.headers.get("Content-Type", "")
            request = parse_params(json_body(content_type, self.body()))
        except BadRequest as error:
            self.fail_request(error.status, str(error))
            return
        await self.answer(request, allow_mutations=True)

    async def answer(self, request: GraphQLRequest, allow_mutations: bool) -> None:
        executor = self.services.executor
        prepared = executor.prepare(
            request.query, request.operation_name, request.variables, request.extensions
        )
        if self.refusal is not None and not (
            isinstance(prepared, Prepared) and signs_out_only(prepared)
        ):
            self.fail(401, str(self.refusal), code=UNAUTHENTICATED)
            return
        if isinstance(prepared, RequestFailure):
            self.reply(prepared)
            return
        mismatch = self.not_the_expected_viewer(request.extensions)
        if mismatch is not None:
            self.fail(401, mismatch, code=UNAUTHENTICATED)
            return
        if prepared.kind is OperationType.MUTATION and not allow_mutations:
            self.set_header("Allow", "POST")
            self.fail(405, "Mutations need POST; GET may only run queries.")
            return
        if prepared.kind is OperationType.SUBSCRIPTION:
            self.fail(
                400,
                "Subscriptions run over WebSocket (graphql-transport-ws) or Server-Sent "
                "Events (graphql-sse: Accept: text/event-stream) at /graphql.",
            )
            return
        self.reply(await self.execute(prepared, request))

    def not_the_expected_viewer(self, extensions: Mapping[str, Any] | None) -> str | None:
        """Why the request is refused when it names the account it was made
        by (`extensions.expectedViewer`: a User id, or null for a visitor
        not signed in) and the session it came with is another's; None
        otherwise. The pages' outboxes name it: a change made by one account
        and sent later, from a tab left open while another account signed
        in on the same browser, must not be made as that other account."""
        if not extensions or "expectedViewer" not in extensions:
            return None
        expected = extensions["expectedViewer"]
        actual = None if self.credential is None else to_global_id("User", self.credential.user_id)
        if expected == actual:
            return None
        return (
            "This change was made by another account than the one signed in now "
            "(extensions.expectedViewer); nothing was changed. Sign in as that "
            "account to send it."
        )

    async def execute(
        self, prepared: Prepared, request: GraphQLRequest
    ) -> dict[str, Any] | RequestFailure:
        context = build_context(self, self.credential, CookieSession(self), self.revoked)
        return await self.services.executor.run(prepared, request.variables, context)

    def reply(self, outcome: dict[str, Any] | RequestFailure) -> None:
        if isinstance(outcome, RequestFailure):
            status = 400 if self.media_type == GRAPHQL_RESPONSE else 200
            self.write_json(outcome.payload(), status=status, content_type=self.media_type)
        else:
            self.write_json(outcome, content_type=self.media_type)

    def fail_request(self, status: int, message: str) -> None:
        """A request that cannot be run at all: a revoked bearer token's
        401 comes first, as an invalid token's does (in `prepare`)."""
        if self.refusal is not None:
            self.fail(401, str(self.refusal), code=UNAUTHENTICATED)
        else:
            self.fail(status, message)

    def fail(self, status: int, message: str, code: str = BAD_USER_INPUT) -> None:
        """An error about the request itself, in GraphQL's error shape."""
        error = {"message": message, "extensions": {"code": code}}
        self.write_json({"errors": [error]}, status=status, content_type=self.media_type)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 405:
            # (PUT and DELETE are GraphQL over SSE's: app.web.graphql_sse.)
            self.set_header("Allow", "GET, POST, PUT, DELETE, OPTIONS")
            self.fail(405, f"{self.request.method} is not supported here; use GET or POST.")
            return
        if status_code >= 500:
            # The traceback is in the log; the client hears only this.
            error = {
                "message": "Internal server error.",
                "extensions": {"code": INTERNAL_SERVER_ERROR},
            }
            self.write_json({"errors": [error]}, status=500)
            return
        super().write_error(status_code, **kwargs)
