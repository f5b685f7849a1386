"""Story URLs: what counts as valid, and when two URLs are the same story.

Normalising, so that trivially different links to one page match: lower-
case scheme and host, default port dropped, fragment dropped, `utm_*`
tracking parameters dropped, the remaining query parameters sorted, and
the trailing slash of a non-root path dropped.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from app.models.errors import InvalidInput

MAX_URL = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}


def check_url(url: str) -> str:
    if len(url) > MAX_URL:
        raise InvalidInput(f"A URL may have at most {MAX_URL} characters; this one has {len(url)}.")
    try:
        parts = urlsplit(url)
        has_host = bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:  # a malformed port or IPv6 literal
        has_host = False
    if not has_host or parts.scheme.lower() not in DEFAULT_PORTS:
        raise InvalidInput(
            f"A story URL must be absolute and start with http:// or https://; got {url[:100]!r}."
        )
    return url


def normalize_url(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if parts.port is not None and parts.port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    path = parts.path
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_")
    )
    return urlunsplit((scheme, netloc, path or "/", urlencode(query), ""))
