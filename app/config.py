"""Settings, read once from the environment and the command line.

Every flag is a `tornado.options` option whose default comes from the
environment (12-factor), so `PORT=8000 python server.py` and
`python server.py --port=8000` mean the same thing. Nothing else in the
project reads `os.environ`: it receives a frozen `Settings`.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tornado.options import OptionParser

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


class SettingsError(Exception):
    """A setting is missing or malformed; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""
    #: SQLite's durability: "normal" keeps every acknowledged change when
    #: the process is killed; "full" also when the machine loses power.
    sqlite_synchronous: str = "normal"
    #: Set: events travel through Redis pub/sub, so every process hears them.
    redis_url: str = ""
    secret_key: str = ""
    debug: bool = False
    data_dir: Path = DEFAULT_DATA_DIR
    #: Seconds between protocol-level pings on idle sockets; below the 55 s
    #: idle cut of common proxies (Heroku's router among them).
    websocket_ping_interval: float = 25.0
    #: Seconds between keep-alive comments on an event stream (GraphQL over
    #: SSE), which has no pings: under the idle cut-off of common proxies
    #: (Heroku's router: 55 s; nginx: 60 s), as graphql-sse's own server does.
    event_stream_keep_alive: float = 12.0
    #: Largest frame a client may send; larger ones close the socket (1009).
    websocket_max_message_size: int = 64 * 1024
    #: Seconds a graphql-transport-ws client has to send connection_init.
    graphql_ws_init_timeout: float = 10.0
    #: Parsed and validated GraphQL documents kept in memory.
    graphql_document_cache_size: int = 512
    #: Other sites allowed to call /graphql from a browser (CORS) and to open
    #: sockets; empty means this site only.
    cors_origins: tuple[str, ...] = ()
    #: Behind a proxy that sets X-Forwarded-Proto/For (Heroku's router): trust
    #: its last hop for the client's address and scheme (app/web/proxy.py).
    trust_proxy: bool = False
    #: Seconds a connection may take to send a complete request head, from
    #: when it opens or its last response ends: idle keep-alive connections
    #: and headers trickling in are cut past this. Above the 90 s for which
    #: Heroku's router keeps idle connections, so that the router, never
    #: this server, closes them (no request lost to a race). WebSockets are
    #: not affected: they have their own pings.
    http_idle_timeout: float = 100.0
    #: Seconds a request body may take to arrive once its head has.
    http_body_timeout: float = 60.0
    #: Set: /metrics answers only requests bearing this token.
    metrics_token: str = ""
    #: Events kept per stream for clients that reconnect and resume.
    history_size: int = 1000
    #: Seconds an event stays replayable to a resuming client.
    history_ttl: float = 600.0
    #: Seconds Redis remembers an idle stream's epoch and last offset (past
    #: this a resume from an older position is told to refetch).
    history_meta_ttl: float = 86400.0
    #: Seconds a process's presence counts outlive its last renewal (with
    #: Redis): a crashed process's watchers vanish within about this long.
    presence_ttl: float = 30.0
    #: Fewest seconds between two presence notices about one key.
    presence_notice_interval: float = 0.25
    #: Most signed-in watchers a counter lists by name; past it, only the
    #: count is told (app.realtime.members).
    presence_members: int = 50
    #: Deliveries (one event to one subscriber) per slice of a fan-out; the
    #: rest follow on later turns of the event loop (app.realtime.registry).
    fanout_slice: int = 250
    #: Seconds a request key (`clientMutationId`, a counter socket's `id`)
    #: is remembered from the change it first made: a retry within this is
    #: answered with that change; past it the key is forgotten and a retry
    #: is a new change. A day, as Stripe keeps its idempotency keys.
    request_key_window: float = 86400.0
    #: Seconds between two prunes of forgotten keys (app.application).
    request_key_prune_every: float = 60.0
    #: Extra positional words after the flags, such as `migrate`.
    command: tuple[str, ...] = field(default_factory=tuple)

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when the database is SQLite, else None."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix) :])
        return None

    @property
    def presence_renew(self) -> float:
        """Seconds between renewals: three per TTL, so one late renewal
        never expires a live process."""
        return self.presence_ttl / 3

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _bool(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


def _seconds(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise SettingsError(f"{name} must be a positive number of seconds; it is {text!r}.")
    return value


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    """The environment's whole number `name`, or `default` when unset; a
    value that is no whole number (an empty PORT=, say) is said in words,
    not as a traceback."""
    text = env.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number; it is {text!r}.") from None


def load_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Builds `Settings` from flags, then the environment, then defaults."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    parser = OptionParser()
    parser.define("host", default=env.get("HOST", ""), help="interface to bind")
    parser.define("port", type=int, default=_whole(env, "PORT", defaults.port))
    parser.define("database_url", default=env.get("DATABASE_URL", ""))
    parser.define(
        "sqlite_synchronous",
        default=env.get("SQLITE_SYNCHRONOUS", defaults.sqlite_synchronous),
    )
    parser.define("redis_url", default=env.get("REDIS_URL", ""))
    parser.define("secret_key", default=env.get("SECRET_KEY", ""))
    parser.define("debug", type=bool, default=_bool(env.get("DEBUG", "")))
    parser.define("data_dir", default=env.get("DATA_DIR", str(defaults.data_dir)))
    parser.define("cors_origins", default=env.get("CORS_ORIGINS", ""))
    parser.define("metrics_token", default=env.get("METRICS_TOKEN", ""))
    parser.define("trust_proxy", type=bool, default=_bool(env.get("TRUST_PROXY", "")))
    parser.define(
        "history_size", type=int, default=_whole(env, "HISTORY_SIZE", defaults.history_size)
    )
    parser.define(
        "history_ttl", type=float, default=float(env.get("HISTORY_TTL", defaults.history_ttl))
    )
    parser.define(
        "http_idle_timeout",
        default=env.get("HTTP_IDLE_TIMEOUT", str(defaults.http_idle_timeout)),
    )
    parser.define(
        "http_body_timeout",
        default=env.get("HTTP_BODY_TIMEOUT", str(defaults.http_body_timeout)),
    )
    parser.define("presence_ttl", default=env.get("PRESENCE_TTL", str(defaults.presence_ttl)))
    parser.define(
        "presence_notice_interval",
        default=env.get("PRESENCE_NOTICE_INTERVAL", str(defaults.presence_notice_interval)),
    )
    parser.define(
        "presence_members",
        type=int,
        default=_whole(env, "PRESENCE_MEMBERS", defaults.presence_members),
    )
    parser.define(
        "request_key_window",
        default=env.get("REQUEST_KEY_WINDOW", str(defaults.request_key_window)),
    )
    rest = parser.parse_command_line(["server.py", *(argv or [])], final=False)

    if parser.history_size < 1 or parser.history_ttl <= 0:
        raise SettingsError(
            "HISTORY_SIZE must be at least 1 and HISTORY_TTL above 0 seconds: "
            "they bound the events a reconnecting client can be sent again."
        )
    if parser.presence_members < 0:
        raise SettingsError(
            "PRESENCE_MEMBERS must be 0 or more: it bounds how many watchers a "
            "counter lists by name (0 lists none, only the count)."
        )
    # A platform that sets PORT (Heroku) expects us on every interface.
    host = parser.host or ("0.0.0.0" if "PORT" in env else defaults.host)
    data_dir = Path(parser.data_dir).resolve()
    database_url = parser.database_url or f"sqlite:///{data_dir / 'app.db'}"
    synchronous = parser.sqlite_synchronous.strip().lower()
    if synchronous not in ("normal", "full"):
        raise SettingsError(
            "SQLITE_SYNCHRONOUS must be normal (survives the process being "
            "killed) or full (survives a power cut too); it is "
            f"{parser.sqlite_synchronous!r}."
        )
    return Settings(
        host=host,
        port=parser.port,
        database_url=database_url,
        sqlite_synchronous=synchronous,
        redis_url=parser.redis_url,
        secret_key=parser.secret_key,
        debug=parser.debug,
        data_dir=data_dir,
        cors_origins=tuple(
            origin.strip().rstrip("/")
            for origin in parser.cors_origins.split(",")
            if origin.strip()
        ),
        trust_proxy=parser.trust_proxy,
        http_idle_timeout=_seconds("HTTP_IDLE_TIMEOUT", parser.http_idle_timeout),
        http_body_timeout=_seconds("HTTP_BODY_TIMEOUT", parser.http_body_timeout),
        metrics_token=parser.metrics_token,
        history_size=parser.history_size,
        history_ttl=parser.history_ttl,
        presence_ttl=_seconds("PRESENCE_TTL", parser.presence_ttl),
        presence_notice_interval=_seconds(
            "PRESENCE_NOTICE_INTERVAL", parser.presence_notice_interval
        ),
        presence_members=parser.presence_members,
        request_key_window=_seconds("REQUEST_KEY_WINDOW", parser.request_key_window),
        command=tuple(rest),
    )


def ensure_secret_key(settings: Settings) -> Settings:
    """Fills in the secret key for the embedded default.

    On the embedded default a key is generated once and kept in the data
    folder, so signed cookies survive restarts. A shared deployment
    (PostgreSQL, or several processes joined by Redis) needs every process
    to sign alike, so there the key must be given.
    """
    if settings.secret_key:
        return settings
    if settings.sqlite_path is None or settings.redis_url:
        raise SettingsError(
            "SECRET_KEY is not set: in a shared deployment (PostgreSQL or "
            "REDIS_URL) every server process must sign cookies with the same "
            "key, so set SECRET_KEY (or --secret_key) to one long random string."
        )
    key_file = settings.data_dir / "secret_key"
    if not key_file.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return settings.with_overrides(secret_key=key_file.read_text().strip())
