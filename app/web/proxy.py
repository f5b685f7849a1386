"""Who the client is, as far as the proxy in front can tell us.

Every handler asks here, never `request.remote_ip` or `request.protocol`
(the server runs without Tornado's `xheaders`, whose rules differ: it
prefers `X-Real-Ip`, a header any client can send through a proxy that
does not set it, such as Heroku's router).

Without `TRUST_PROXY` the client is the socket's peer and the scheme is
the connection's. With it, the proxy is trusted for what it adds itself:
the last address in `X-Forwarded-For` (a proxy appends the address it
saw; what comes before is whatever the client claimed) and the last
value of `X-Forwarded-Proto`. Nothing else a client sends counts.
"""

from __future__ import annotations

import ipaddress

from tornado.httputil import HTTPServerRequest

#: Every request header read here: what an open socket keeps of its
#: upgrade request (app.web.base.BaseSocketHandler.shed_upgrade).
HEADERS = ("X-Forwarded-For", "X-Forwarded-Proto")


def _last(value: str) -> str:
    return value.rsplit(",", 1)[-1].strip()


def client_address(request: HTTPServerRequest, trust_proxy: bool) -> str:
    """The client's IP address, normalised (limits are counted by it)."""
    if trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded:
            try:
                return str(ipaddress.ip_address(_last(forwarded)))
            except ValueError:
                pass  # not an address: the proxy did not write it; use the peer
    return request.remote_ip or ""


def is_https(request: HTTPServerRequest, trust_proxy: bool) -> bool:
    """Whether the client reached us over HTTPS (then cookies are Secure)."""
    if trust_proxy and "X-Forwarded-Proto" in request.headers:
        return _last(request.headers["X-Forwarded-Proto"]).lower() == "https"
    return request.protocol == "https"
