"""Base handlers: shared services, JSON and page output, socket plumbing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from types import TracebackType
from typing import Any
from urllib.parse import unquote_plus

import orjson
import tornado.web
import tornado.websocket
from tornado.httputil import HTTPHeaders, responses
from tornado.ioloop import IOLoop
from tornado.log import app_log

from app import metrics
from app.events import credential_topic, user_presence_key, user_sockets_topic
from app.models.auth_token import AuthToken
from app.models.errors import Unavailable
from app.models.user import User
from app.realtime.devices import UNKNOWN, device_label, new_device
from app.services import Services
from app.web import proxy
from app.web.auth import InvalidCredential, find_credential, session_credential
from app.web.security import same_site, set_security_headers

log = logging.getLogger(__name__)

#: Sockets one user may hold open at once, across tabs and kinds.
MAX_SOCKETS_PER_USER = 50
SIGNED_OUT = 4403


#: Query parameters that carry credentials: never written to the log.
CREDENTIAL_PARAMETERS = frozenset({"token", "access_token", "authorization"})


def redacted_uri(uri: str) -> str:
    """`uri` with the value of every credential parameter replaced, for
    the log. Names are compared decoded, as Tornado reads them."""
    path, mark, query = uri.partition("?")
    if not mark:
        return uri
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        if equals and unquote_plus(name).lower() in CREDENTIAL_PARAMETERS:
            part = f"{name}=[redacted]"
        parts.append(part)
    return f"{path}?{'&'.join(parts)}"


class RedactedLogging(tornado.web.RequestHandler):
    """Tornado logs a failed request with its URI and the request's repr,
    query string and all; a socket's `?token=` must not reach the log.
    These log the same, with credentials redacted."""

    def _request_summary(self) -> str:
        request = self.request
        return f"{request.method} {redacted_uri(request.uri or '')} ({request.remote_ip})"

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(value, asyncio.CancelledError):
            # A handler cancelled as the process stops (asyncio cancels the
            # tasks still pending at the end): nothing went wrong.
            return
        if isinstance(value, tornado.web.HTTPError):
            super().log_exception(typ, value, tb)  # a summary only, redacted above
            return
        app_log.error("Uncaught exception %s", self._request_summary(), exc_info=value)


class BaseHandler(RedactedLogging):
    services: Services

    def initialize(self, services: Services) -> None:
        self.services = services
        services.requests.add(self)

    def on_finish(self) -> None:
        self.services.requests.discard(self)

    def on_connection_close(self) -> None:
        self.services.requests.discard(self)
        super().on_connection_close()

    def set_default_headers(self) -> None:
        set_security_headers(self)

    def write_json(
        self, payload: Any, status: int = 200, content_type: str = "application/json"
    ) -> None:
        self.set_status(status)
        self.set_header("Content-Type", f"{content_type}; charset=utf-8")
        self.finish(orjson.dumps(payload))

    def session_credential(self) -> AuthToken | None:
        """The browser session's credential (cookie only), looked up once."""
        if not hasattr(self, "_session_credential"):
            self._session_credential = session_credential(self)
        return self._session_credential

    def get_current_user(self) -> User | None:
        credential = self.session_credential()
        return credential.user if credential is not None else None

    def render_page(self, template: str, status_code: int = 200, **context: Any) -> None:
        page = self.services.templates.get_template(template)
        self.set_status(status_code)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            page.render(
                request=self.request,
                viewer=self.current_user,
                xsrf_form_html=self.xsrf_form_html,
                static_url=self.static_url,
                # How long a change's key is remembered: the pages' outboxes
                # send nothing again past it (static/js/outbox.js).
                request_key_window=self.services.settings.request_key_window,
                **context,
            )
        )

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, Unavailable):  # weather, not a bug: one line, no traceback
            log.warning("%s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Never a traceback: Tornado logs it, the client gets a sentence.
        reason = self._reason or responses.get(status_code, "Error")
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, Unavailable):
            # The database is away: 503 says so, and who is signed in is unknown.
            status_code, reason = 503, str(error)
            self.current_user = None
            if error.retry_after is not None:
                self.set_header("Retry-After", str(error.retry_after))
        if "text/html" in self.request.headers.get("Accept", ""):
            self.render_page("error.html", status_code, status=status_code, reason=reason)
        else:
            self.write_json({"error": reason}, status=status_code)


class PageHandler(BaseHandler):
    """A page for browsers: signed in by the session cookie only."""

    @property
    def credential(self) -> AuthToken | None:
        return self.session_credential()


class _SignOutWatch:
    """Registered under the socket's credential: closes it on sign-out."""

    __slots__ = ("handler",)

    def __init__(self, handler: BaseSocketHandler) -> None:
        self.handler = handler

    def deliver(self, event: object, shared: dict[object, object]) -> None:
        # Later, so that the signOut reply itself still reaches this socket.
        IOLoop.current().add_callback(self.handler.close, SIGNED_OUT, "Forbidden: signed out")


class _Queue(list[Any]):
    """A list that answers to `popleft`: the deque methods Tornado's
    IOStream uses on its write queues (append, popleft, [0], [-1], clear,
    len, iteration). An empty deque costs ~760 bytes (it allocates a block
    of 64 slots at once), an empty list 56; an idle socket's queues are
    empty, and a busy one's stay short (the stream merges small writes)."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)


class BaseSocketHandler(RedactedLogging, tornado.websocket.WebSocketHandler):
    """What every WebSocket of ours does: who it is, limits, and Nagle off."""

    services: Services
    credential: AuthToken | None = None
    allow_query_token = True
    #: Kept by `services.heartbeat` (app.web.heartbeat), which pings.
    heartbeat_slot: int
    awaiting_pong = False

    def initialize(self, services: Services) -> None:
        self.services = services
        self._watch = _SignOutWatch(self)
        #: (A tuple: an empty one costs an idle socket nothing.)
        self._watched: tuple[tuple[str, ...], ...] = ()
        #: The user's tabs key while this socket counts as one of them.
        self._tab: tuple[str, ...] | None = None
        #: This connection among the user's devices (a presence member).
        self._device: str | None = None
        #: Its device label, read from the User-Agent before the headers go.
        self._device_label = UNKNOWN

    def check_origin(self, origin: str) -> bool:
        """This site or a listed one (app/web/security.py); Tornado asks
        only when the client sent an Origin, as browsers always do."""
        return same_site(origin, self.request.host) or (
            origin.rstrip("/") in self.services.settings.cors_origins
        )

    def refuse(self, status: int, message: str) -> None:
        """Answers the upgrade request with an error instead of a socket."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(orjson.dumps({"error": message}))

    def authenticate(self) -> bool:
        """Finds the credential at the upgrade; False after refusing."""
        try:
            self.credential = find_credential(self, self.allow_query_token)
        except InvalidCredential as error:
            self.refuse(401, str(error))
            return False
        if self.credential is not None and self.over_socket_limit(self.credential):
            self.refuse(
                429, f"You have {MAX_SOCKETS_PER_USER} sockets open, the most allowed; close one."
            )
            return False
        return True

    def over_socket_limit(self, credential: AuthToken) -> bool:
        topic = user_sockets_topic(credential.user_id)
        return len(self.services.registry.subscribers(topic)) >= MAX_SOCKETS_PER_USER

    def watch(self, credential: AuthToken) -> None:
        """Counts this socket for its user (the socket limit, and their tabs
        in presence) and closes it when they sign out."""
        self.unwatch()
        self._watched = (credential_topic(credential.id), user_sockets_topic(credential.user_id))
        for topic in self._watched:
            self.services.registry.add(topic, self._watch)
        self._tab = user_presence_key(credential.user_id)
        if self._device is None:
            self._device = new_device(self._device_label).member()
        self.services.presence.enter(self._tab, self._device)

    def unwatch(self) -> None:
        for topic in self._watched:
            self.services.registry.discard(topic, self._watch)
        self._watched = ()
        if self._tab is not None:
            self.services.presence.leave(self._tab, self._device)
            self._tab = None

    #: The label of this kind of socket in the metrics.
    kind = "socket"

    def open(self, *args: str, **kwargs: str) -> Awaitable[None] | None:
        # Nagle's algorithm holds small frames back by up to 40 ms.
        self.set_nodelay(True)
        self.shed_upgrade()
        self.services.sockets.add(self)
        self.services.heartbeat.add(self)
        metrics.open_sockets.labels(self.kind).inc()
        if self.credential is not None:
            self.watch(self.credential)
        return None

    def shed_upgrade(self) -> None:
        """Drops what only the upgrade needed, which an open socket would
        otherwise hold for its whole life (memory per idle connection, ~2 KB
        with a browser's headers): the request's headers but for those read
        afterwards (`proxy.HEADERS`, for the client's address in each
        operation's context), its parsed cookies, the 101's response
        headers (sent), Tornado's template helpers (a socket renders
        nothing), and the HTTP/1 connection objects the upgrade was read
        and answered through (the stream, detached from them, is the
        socket's now; they hold the raw request headers, futures and a
        finished task)."""
        request = self.request
        request.connection = None
        request.server_connection = None
        # Emptied in place, not replaced: Tornado's `get`, suspended for the
        # socket's whole life, holds this very object in a local variable.
        headers = request.headers
        self._device_label = device_label(headers.get("User-Agent"))
        kept = [(name, value) for name in proxy.HEADERS for value in headers.get_list(name)]
        HTTPHeaders.__init__(headers)
        for name, value in kept:
            headers.add(name, value)
        request.__dict__.pop("_cookies", None)
        self._headers = HTTPHeaders()
        self.ui = None  # type: ignore[assignment]
        # The stream's two write queues, if empty (as after the 101), as
        # lists (`_Queue`). Tornado internals, like app.realtime.writer's;
        # tests/test_writer.py fails loudly if they move.
        stream: Any = self.ws_connection.stream if self.ws_connection is not None else None
        if stream is not None and not stream._write_futures and not stream._write_buffer:
            stream._write_futures = _Queue()
            stream._write_buffer._buffers = _Queue()

    def ping_now(self) -> bool:
        """Sends a WebSocket ping (for the heartbeat); False when closing."""
        connection = self.ws_connection
        if connection is None or connection.is_closing():
            return False
        connection.write_ping(b"")
        return True

    def on_pong(self, data: bytes) -> None:
        self.awaiting_pong = False

    def on_close(self) -> None:
        if self in self.services.sockets:
            self.services.sockets.discard(self)
            metrics.open_sockets.labels(self.kind).dec()
        self.services.heartbeat.discard(self)
        self.unwatch()
