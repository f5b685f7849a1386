"""Who is making a request, and the GraphQL context built from it.

Three ways to present a credential, all the same random token underneath
(see app.models.auth_token): an `Authorization: Bearer` header, a signed
HttpOnly session cookie set by signing in over HTTP, and, on sockets only,
`?token=` (browsers cannot set headers on a WebSocket). A bearer token
that is present but invalid or revoked is refused (401); a stale session
cookie counts as no session, so an old browser tab keeps working,
anonymously. A revoked token is still recognised, at no extra cost (its
row stays, found by the same lookup): a retried sign-out may present it
(app.web.graphql_http).

Cross-site request forgery: a cookie-authenticated POST to /graphql must
carry `Content-Type: application/json` (anything else is 415). A page on
another site cannot send that without a CORS preflight, which this server
does not grant, and GET never runs mutations; so another site cannot make
a signed-in browser change anything. (Page forms, which post form data,
use Tornado's xsrf check instead.)
"""

from __future__ import annotations

import tornado.web

from app.api.resolvers.base import Context, NoSession, SessionHooks
from app.models.auth_token import AuthToken
from app.web import proxy

SESSION_COOKIE = "session"
SESSION_DAYS = 30


class InvalidCredential(Exception):
    """A credential was presented and is not valid; the message says why.
    `revoked` is the credential when it was one and has been revoked."""

    def __init__(self, message: str, revoked: AuthToken | None = None) -> None:
        super().__init__(message)
        self.revoked = revoked


def find_credential(
    handler: tornado.web.RequestHandler, allow_query_token: bool = False
) -> AuthToken | None:
    """The request's live credential, None for anonymous, or raises."""
    credential = presented_credential(handler, allow_query_token)
    return credential if credential is not None and credential.live else None


def presented_credential(
    handler: tornado.web.RequestHandler, allow_query_token: bool = False
) -> AuthToken | None:
    """The credential the request presents, live or revoked, None for
    anonymous; raises for a bearer (or query) token that is not live."""
    token = None
    header = handler.request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise InvalidCredential("The Authorization header must be `Bearer <token>`.")
    elif allow_query_token:
        token = handler.get_query_argument("token", None)
    if token is not None:
        credential = AuthToken.presented(token)
        if credential is None or not credential.live:
            raise InvalidCredential(
                "That token is invalid or has been revoked; sign in again.", revoked=credential
            )
        return credential
    cookie = _session_cookie(handler)
    return AuthToken.presented(cookie) if cookie else None


def session_credential(handler: tornado.web.RequestHandler) -> AuthToken | None:
    """The live credential in the session cookie; None for a missing,
    forged or stale one (a stale tab keeps working, anonymously)."""
    cookie = _session_cookie(handler)
    return AuthToken.find(cookie) if cookie else None


def _session_cookie(handler: tornado.web.RequestHandler) -> str | None:
    cookie = handler.get_signed_cookie(SESSION_COOKIE, max_age_days=SESSION_DAYS)
    return cookie.decode() if cookie else None


class CookieSession(SessionHooks):
    """Signing in or out over HTTP sets or clears the session cookie."""

    def __init__(self, handler: tornado.web.RequestHandler) -> None:
        self.handler = handler

    def signed_in(self, credential: AuthToken, token: str) -> None:
        self.handler.set_signed_cookie(
            SESSION_COOKIE,
            token,
            expires_days=SESSION_DAYS,
            httponly=True,
            samesite="Lax",
            secure=proxy.is_https(self.handler.request, _trust_proxy(self.handler)),
        )

    def signed_out(self) -> None:
        self.handler.clear_cookie(SESSION_COOKIE)


def _trust_proxy(handler: tornado.web.RequestHandler) -> bool:
    return bool(handler.settings["services"].settings.trust_proxy)


def client_address(handler: tornado.web.RequestHandler) -> str:
    """The client's address, through the proxy when it is trusted
    (app.web.proxy): what limits such as sign-in attempts count by."""
    return proxy.client_address(handler.request, _trust_proxy(handler))


def build_context(
    handler: tornado.web.RequestHandler,
    credential: AuthToken | None,
    session: SessionHooks | None = None,
    revoked: AuthToken | None = None,
) -> Context:
    """The one context builder, for HTTP and sockets alike."""
    return Context(
        viewer=credential.user if credential is not None else None,
        credential=credential,
        revoked=revoked,
        session=session or NoSession(),
        address=client_address(handler),
        presence=handler.settings["services"].presence,
    )
