"""`/graphql` over WebSocket: the Tornado side of graphql-transport-ws.

A thin adapter: frames go to `app.protocols.graphql_ws.Session`, and the
session's operations run through the same executor and context builder
as HTTP (`app.api.operations.run_operation`, `app.web.auth`).

Header spelling: Tornado writes response headers in its own
capitalisation (`Sec-Websocket-Protocol`). HTTP says header names are
case-insensitive, but Python's `gql` client looks the subprotocol up by
the exact spelling `Sec-WebSocket-Protocol`; missing it, gql falls back to
the legacy `graphql-ws` protocol and fails. So this handler writes the
RFC 6455 spellings on the wire (`CanonicalHeaders`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
from tornado.httputil import HTTPHeaders
from tornado.ioloop import IOLoop
from tornado.routing import Matcher, PathMatches

from app.api.operations import run_operation
from app.models.auth_token import AuthToken
from app.protocols import graphql_ws as protocol
from app.realtime import writer
from app.web.auth import build_context
from app.web.base import BaseSocketHandler

_RFC6455_NAMES = {
    "Sec-Websocket-Protocol": "Sec-WebSocket-Protocol",
    "Sec-Websocket-Accept": "Sec-WebSocket-Accept",
    "Sec-Websocket-Extensions": "Sec-WebSocket-Extensions",
    "Sec-Websocket-Version": "Sec-WebSocket-Version",
}


class CanonicalHeaders(HTTPHeaders):
    """Writes the WebSocket headers with RFC 6455's spelling; lookups are
    unchanged, so Tornado's own logic is unaffected."""

    def get_all(self) -> Iterator[tuple[str, str]]:
        for name, value in super().get_all():
            yield _RFC6455_NAMES.get(name, name), value


class WebSocketUpgrade(Matcher):
    """Matches `path` only for WebSocket upgrade requests, so that one URL
    serves both GraphQL over HTTP and over WebSocket."""

    def __init__(self, path: str) -> None:
        self.path = PathMatches(path)

    def match(self, request: Any) -> dict[str, Any] | None:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return None
        return self.path.match(request)


class GraphQLSocketHandler(BaseSocketHandler):
    kind = "graphql"
    session: protocol.Session
    init_timer: object | None = None

    def clear(self) -> None:
        super().clear()
        self._headers = CanonicalHeaders(self._headers)

    def prepare(self) -> None:
        # Here rather than in an override of `get`: a coroutine wrapping
        # Tornado's would stay suspended for the socket's whole life (memory
        # per idle connection). Refusing finishes the request, and Tornado
        # then does not call `get`.
        self.authenticate()

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        # gql offers the legacy "graphql-ws" first: pick ours from the list.
        return protocol.SUBPROTOCOL if protocol.SUBPROTOCOL in subprotocols else None

    def open(self, *args: str, **kwargs: str) -> None:
        super().open()
        self.session = protocol.Session(self, _Operations(self))
        if self.selected_subprotocol != protocol.SUBPROTOCOL:
            self.session.close(protocol.SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")
            return
        timeout = self.services.settings.graphql_ws_init_timeout
        self.init_timer = IOLoop.current().call_later(timeout, self.session.init_timed_out)

    def on_message(self, message: str | bytes) -> None:
        self.session.receive(message)

    async def close_for_restart(self, code: int, reason: str) -> None:
        """Closes once the queries and mutations running are answered."""
        if not hasattr(self, "session"):  # (not open yet)
            self.close(code, reason)
            return
        await self.session.finish_requests()
        self.session.close(code, reason)

    def send(self, message: dict[str, Any]) -> None:
        writer.send_text(self, orjson.dumps(message))

    def send_text(self, message: bytes, shared: dict[object, object]) -> None:
        writer.send_text(self, message, shared)

    def on_close(self) -> None:
        super().on_close()
        if self.init_timer is not None:
            IOLoop.current().remove_timeout(self.init_timer)
        if hasattr(self, "session"):
            self.session.closed()


class _Operations:
    """What the session needs from the app: accept the init payload, and
    run operations with the connection's credential."""

    __slots__ = ("handler",)

    def __init__(self, handler: GraphQLSocketHandler) -> None:
        self.handler = handler

    def connect(self, payload: dict[str, Any] | None) -> dict[str, Any] | None:
        handler = self.handler
        if handler.init_timer is not None:
            IOLoop.current().remove_timeout(handler.init_timer)
            handler.init_timer = None
        token = (payload or {}).get("token")
        if token is None:
            return None
        credential = AuthToken.find(token) if isinstance(token, str) else None
        if credential is None:
            raise protocol.Refused(protocol.FORBIDDEN, "Forbidden: invalid or revoked token")
        if credential.user_id != getattr(handler.credential, "user_id", None) and (
            handler.over_socket_limit(credential)
        ):
            raise protocol.Refused(1008, "Too many sockets open for this user")
        handler.credential = credential
        handler.watch(credential)
        return None

    def run(self, op_id: str, payload: protocol.SubscribePayload) -> AsyncIterator[dict[str, Any]]:
        services = self.handler.services
        return run_operation(
            services.executor,
            services.live,
            payload,
            build_context(self.handler, self.handler.credential),
            protocol.LiveOperation(
                self.handler.session, op_id, protocol.asks_for_positions(payload)
            ),
            services.history,
        )
