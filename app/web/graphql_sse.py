"""`/graphql` over Server-Sent Events: the Tornado side of graphql-sse.

A thin adapter: the protocol (framing, operations by id, reservations) is
`app.protocols.graphql_sse`; operations run through the same executor,
context builder and live groups as on the socket
(`app.api.operations.run_operation`, `app.web.auth`).

Served at `/graphql` itself, as the protocol's client sends it: a request
is routed here (`EventStreamRequest`) when it says it speaks graphql-sse
(`Accept: text/event-stream`, a stream token in `X-GraphQL-Event-Stream-Token`
or `?token=`, or the methods only this protocol uses, PUT and DELETE);
everything else stays plain GraphQL over HTTP. (On /graphql `?token=` is
the stream's token: a bearer token goes in `Authorization`.)

This module reads the requests: which protocol and mode, which operation,
which reservation. A response that becomes an event stream is held, kept
alive, bounded and ended by `app.web.event_stream`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import tornado.web
from graphql import OperationType
from tornado.routing import Matcher, PathMatches

from app.api.errors import UNAUTHENTICATED
from app.api.execution import RequestFailure
from app.api.operations import run_operation
from app.api.payloads import SubscribePayload
from app.protocols import graphql_sse as protocol
from app.protocols.graphql_ws import asks_for_positions
from app.realtime.history import PositionError
from app.services import Services
from app.web.auth import InvalidCredential, build_context, find_credential
from app.web.event_stream import EventStreamHandler
from app.web.graphql_http import (
    GRAPHQL_RESPONSE,
    JSON,
    BadRequest,
    json_body,
    negotiate,
    parse_params,
    query_params,
)
from app.web.request_body import BoundedBody
from app.web.security import allow_cross_origin


class EventStreamRequest(Matcher):
    """Matches `path` for graphql-sse's requests only (see the module
    docstring), so that one URL serves both protocols."""

    def __init__(self, path: str) -> None:
        self.path = PathMatches(path)

    def match(self, request: Any) -> dict[str, Any] | None:
        headers = request.headers
        if request.method == "OPTIONS":
            return None  # CORS preflights: app.web.graphql_http answers them
        if not (
            request.method in ("PUT", "DELETE")
            or protocol.EVENT_STREAM in headers.get("Accept", "")
            or protocol.TOKEN_HEADER in headers
            or protocol.TOKEN_PARAMETER in request.query_arguments
        ):
            return None
        return self.path.match(request)


@tornado.web.stream_request_body
class GraphQLEventStreamHandler(BoundedBody, EventStreamHandler):
    """Request bodies as over plain HTTP: at most 1 MiB, kept as they
    stream in (app.web.request_body), a larger one refused with a 413."""

    SUPPORTED_METHODS = ("GET", "POST", "PUT", "DELETE")

    def initialize(  # type: ignore[override]
        self, services: Services, reservations: protocol.Reservations
    ) -> None:
        super().initialize(services)
        self.reservations = reservations

    def check_xsrf_cookie(self) -> None:
        """As for GraphQL over HTTP (app/web/auth.py): POSTs must be JSON,
        which another site cannot send with a user's cookie; PUT and DELETE
        need a preflight that is granted to CORS_ORIGINS only; GET never
        runs a mutation."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        # Runs before initialize(): read the services from the application.
        allow_cross_origin(self, self.settings["services"].settings.cors_origins)

    def prepare(self) -> None:
        self.expect_body(self.request.headers.get("Content-Length"))
        try:
            self.credential = find_credential(self)
        except InvalidCredential as error:
            self.fail(401, str(error), code=UNAUTHENTICATED)

    @property
    def owner(self) -> int | None:
        return self.credential.user_id if self.credential is not None else None

    def stream_token(self) -> str | None:
        token = self.request.headers.get(protocol.TOKEN_HEADER)
        if token is None:
            token = self.get_query_argument(protocol.TOKEN_PARAMETER, None)
        return token

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 405:
            self.set_header("Allow", "GET, POST, PUT, DELETE")
            self.fail(405, f"{self.request.method} is not part of GraphQL over SSE.")
            return
        super().write_error(status_code, **kwargs)

    # ------------------------------------------------------------ methods

    def put(self) -> None:
        """Single connection mode: reserves a stream; the token is its name."""
        stream = self.reservations.reserve(self.owner)
        if stream is None:
            self.set_header("Retry-After", str(int(protocol.RESERVATION_SECONDS)))
            self.fail(503, "Too many event streams are reserved on this server; try again soon.")
            return
        self.set_status(201)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(stream.token)

    async def get(self) -> None:
        token = self.stream_token()
        if token is not None and protocol.EVENT_STREAM in self.request.headers.get("Accept", ""):
            await self.open_reserved(token)
            return
        try:
            params = query_params(self.request.query)
        except BadRequest as error:
            self.fail(error.status, str(error))
            return
        await self.operation(token, params, allow_mutations=False)

    async def post(self) -> None:
        if self.too_large:
            self.fail(413, self.too_large_message())
            return
        try:
            params = json_body(self.request.headers.get("Content-Type", ""), self.body())
        except BadRequest as error:
            self.fail(error.status, str(error))
            return
        await self.operation(self.stream_token(), params, allow_mutations=True)

    def delete(self) -> None:
        """Single connection mode: stops one operation."""
        token = self.stream_token()
        stream = self.reservations.find(token, self.owner) if token is not None else None
        if stream is None:
            self.no_such_stream()
            return
        op_id = self.get_query_argument(protocol.OPERATION_ID_PARAMETER, None)
        if not op_id:
            self.fail(400, "Say which operation to stop: `?operationId=<its id>`.")
            return
        stream.stop(op_id)
        self.set_status(200)
        self.finish()

    def no_such_stream(self) -> None:
        self.fail(
            404,
            "No event stream is reserved under that token for you; reserve one with PUT /graphql.",
            code="NOT_FOUND",
        )

    # ------------------------------------------------------------ parsing

    def payload(self, params: dict[str, Any]) -> SubscribePayload:
        """The operation's payload; `Last-Event-ID` stands for
        `extensions.since` (a client coming back names its last event)."""
        request = parse_params(params)
        extensions = dict(request.extensions or {})
        last = self.request.headers.get("Last-Event-ID")
        if last and extensions.get("since") is None:
            try:
                extensions["since"] = protocol.since_from_last_event_id(last).as_json()
            except PositionError as error:
                raise BadRequest(str(error)) from None
        return SubscribePayload(
            query=request.query,  # type: ignore[typeddict-item]
            operationName=request.operation_name,
            variables=dict(request.variables) if request.variables is not None else None,
            extensions=extensions or None,
        )

    # --------------------------------------------------------- operations

    async def operation(
        self, token: str | None, params: dict[str, Any], allow_mutations: bool
    ) -> None:
        """One operation: on a stream of its own (distinct connections
        mode), or on the reserved stream named by `token` (answered 202)."""
        stream = None
        if token is not None:
            stream = self.reservations.find(token, self.owner)
            if stream is None:
                self.no_such_stream()
                return
        try:
            payload = self.payload(params)
        except BadRequest as error:
            self.fail(error.status, str(error))
            return
        op_id = ""  # (a distinct stream's one operation)
        if stream is not None:
            named = (payload.get("extensions") or {}).get("operationId")
            if not isinstance(named, str) or not named:
                self.fail(400, "Name the operation: `extensions.operationId`, a non-empty string.")
                return
            op_id = named
        prepared = self.services.executor.prepare(
            payload.get("query"),
            payload.get("operationName"),
            payload.get("variables"),
            payload.get("extensions"),
        )
        if not isinstance(prepared, RequestFailure):
            if prepared.kind is OperationType.MUTATION and not allow_mutations:
                self.set_header("Allow", "POST")
                self.fail(405, "Mutations need POST; GET may only run queries.")
                return
        elif stream is not None:
            # Validation is answered on the request, as GraphQL over HTTP says.
            media = negotiate(self.request.headers.get("Accept", "")) or JSON
            status = 400 if media == GRAPHQL_RESPONSE else 200
            self.write_json(prepared.payload(), status=status, content_type=media)
            return
        # (Otherwise run_operation refuses it again: the errors are a `next`
        # event on an accepted stream, as the protocol asks.)
        if stream is None:
            stream = protocol.EventStream(False)
            if not self.begin(stream):
                return
            stream.start(op_id, self.run(stream, op_id, payload))
            await self.streaming()
            return
        problem = stream.start(op_id, self.run(stream, op_id, payload))
        if problem is not None:
            self.fail(409, problem)
            return
        self.set_status(202)
        self.finish()

    def run(
        self, stream: protocol.EventStream, op_id: str, payload: SubscribePayload
    ) -> AsyncIterator[dict[str, Any]]:
        services = self.services
        return run_operation(
            services.executor,
            services.live,
            payload,
            build_context(self, self.credential),
            stream.member(op_id, asks_for_positions(payload)),
            services.history,
        )

    # ------------------------------------------------------------ streams

    async def open_reserved(self, token: str) -> None:
        """Single connection mode: the reserved stream's events."""
        stream = self.reservations.find(token, self.owner)
        if stream is None:
            self.no_such_stream()
            return
        if stream.transport is not None:
            self.fail(409, "This reservation's event stream is already open; one at a time.")
            return
        if self.begin(stream):
            try:
                await self.streaming()
            finally:
                self.reservations.drop(stream)
