"""What a browser is told and allowed: security headers, CORS, origins.

- Every response carries nosniff, a strict referrer policy and no framing;
  pages also get a Content-Security-Policy that allows only this site's own
  scripts, styles and sockets (inline style *attributes* are allowed: tag
  colours are set that way).
- /graphql answers CORS requests, preflight included, from the origins
  listed in `CORS_ORIGINS` only (default none: same site only).
- WebSocket upgrades come from this site, a listed origin, or a non-browser
  client (no Origin header); any other Origin is refused (403), so a page on
  another site cannot ride a user's cookie into their socket.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

import tornado.web

BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@lru_cache(maxsize=64)
def content_security_policy(host: str) -> str:
    """Built once per Host header value (every response carries it)."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "style-src-attr 'unsafe-inline'",
            "img-src 'self' data:",
            f"connect-src 'self' ws://{host} wss://{host}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        )
    )


def set_security_headers(handler: tornado.web.RequestHandler) -> None:
    for name, value in BASE_HEADERS.items():
        handler.set_header(name, value)
    handler.set_header("Content-Security-Policy", content_security_policy(handler.request.host))


def allowed_origin(handler: tornado.web.RequestHandler, allowed: tuple[str, ...]) -> str | None:
    """The request's Origin if it is one of the allowed other sites."""
    origin = handler.request.headers.get("Origin", "").rstrip("/")
    return origin if origin and origin in allowed else None


def allow_cross_origin(handler: tornado.web.RequestHandler, allowed: tuple[str, ...]) -> None:
    """CORS response headers for a request from one of the allowed other
    sites (with credentials); `Vary: Origin` always, as the answer depends
    on it."""
    origin = allowed_origin(handler, allowed)
    if origin is not None:
        handler.set_header("Access-Control-Allow-Origin", origin)
        handler.set_header("Access-Control-Allow-Credentials", "true")
    handler.set_header("Vary", "Origin")


def same_site(origin: str, host: str) -> bool:
    return urlsplit(origin).netloc.lower() == host.lower()
