"""`make_app(settings)`: the one place the application is assembled.

Both `server.py` and the tests call it. It opens and migrates the
database, builds the schema and the registry, installs the registry
behind `app.events.publish`, and returns the Tornado application.
Some of what it installs is module state (listed in `make_app`'s
docstring); `close_app` is the one place that undoes it all.
"""

from __future__ import annotations

import logging
from typing import Any

import jinja2
import tornado.web
from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.routing import Rule

from app import db, events, metrics
from app.api.execution import Executor
from app.api.live import LiveQueries
from app.api.schema import build as build_schema
from app.clock import utcnow
from app.config import PROJECT_ROOT, Settings
from app.ids import to_global_id
from app.metrics_samples import SAMPLE_EVERY_SECONDS, MetricsSamples
from app.models import request_keys, stream, throttle
from app.models.request_key_prune import prune_request_keys
from app.protocols.graphql_sse import Reservations
from app.realtime import writer
from app.realtime.backends import make_realtime
from app.realtime.counter_activity import CounterActivityRegistry
from app.services import Services
from app.web.account_pages import LogInPageHandler, LogOutHandler, SignUpPageHandler
from app.web.counter_socket import CounterSocketHandler
from app.web.graphql_http import GraphQLHandler
from app.web.graphql_socket import GraphQLSocketHandler, WebSocketUpgrade
from app.web.graphql_sse import EventStreamRequest, GraphQLEventStreamHandler
from app.web.health import HealthHandler
from app.web.heartbeat import Heartbeat
from app.web.metrics_page import MetricsHandler
from app.web.not_found import NotFoundHandler
from app.web.pages import (
    CounterFollowPageHandler,
    CounterPageHandler,
    CountersPageHandler,
    HomeHandler,
    LibraryPageHandler,
)
from app.web.status_page import StatusPageHandler, StatusSamplesHandler
from app.web.vendor import uplot_routes

log = logging.getLogger(__name__)

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"
COUNTER_NAME = r"([^/]*)"
KNOWN_METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """No line per request on the hot path: only failures are logged; every
    request's duration goes to the metrics."""
    request = handler.request
    # Label values must stay few: any method name a client invents is "OTHER".
    method = request.method if request.method in KNOWN_METHODS else "OTHER"
    metrics.http_request_seconds.labels(type(handler).__name__, method).observe(
        request.request_time()
    )
    status = handler.get_status()
    if status >= 500:
        request = handler.request
        # The path, never the query string: it may hold a ?token=.
        log.error("%d %s %s", status, request.method, request.path)


def templates(settings: Settings) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        auto_reload=settings.debug,
    )
    environment.globals["gid"] = to_global_id
    return environment


def _sample_metrics_every_second() -> tuple[MetricsSamples, PeriodicCallback]:
    """The /status page's ring of metric samples, kept filling."""
    samples = MetricsSamples()

    def take() -> None:
        samples.take()

    sampler = PeriodicCallback(take, SAMPLE_EVERY_SECONDS * 1000)
    sampler.start()
    return samples, sampler


def _prune_request_keys_every(seconds: float) -> PeriodicCallback:
    """Keys past their window pruned from time to time
    (app.models.request_key_prune)."""

    async def prune() -> None:
        try:
            await prune_request_keys(utcnow())
        except Exception:
            log.exception("pruning forgotten request keys failed; will try again")

    pruner = PeriodicCallback(prune, seconds * 1000)
    pruner.start()
    return pruner


def make_app(settings: Settings) -> tornado.web.Application:
    """The application for `settings`, wired.

    One application per process at a time, because it installs module
    state that everything in the process shares (models reach the
    database and the realtime through it, not through arguments):

    - `app.db.database` (the Peewee proxy every model uses), bound to the
      database at `settings.database_url`, and on PostgreSQL the one
      database thread (`app.db.in_database_thread`);
    - `app.events`' publisher: `app.events.publish` hands each committed
      change (`publish_all` each committed batch) to the realtime chosen by
      `make_realtime`, from any thread;
    - `app.models.stream`'s history keeping: on (its policy and epoch)
      when the database keeps the history, off when Redis does;
    - `app.models.throttle`'s counts (sign-up and log-in limits),
      emptied so a new application starts afresh;
    - `app.models.request_keys`' window (`REQUEST_KEY_WINDOW`);
    - the `live_users_connected` gauge of `app.metrics`, read from this
      application's registry;
    - on the current IOLoop: the metrics sampler for /status, the prune of
      forgotten request keys and the realtime's chores (history purge), all
      periodic, and the realtime's start.

    `close_app` stops and resets all of it.
    """
    database = db.open_database(settings.database_url, settings.sqlite_synchronous)
    db.migrate(database)
    registry = CounterActivityRegistry(slice_size=settings.fanout_slice, batching=writer.Cork)
    realtime = make_realtime(settings, registry)
    events.set_publisher(realtime.publish, IOLoop.current().add_callback, realtime.publish_all)
    IOLoop.current().add_callback(realtime.start)
    throttle.reset()
    request_keys.remember_for(settings.request_key_window)
    metrics.users_connected.set_function(lambda: registry.count("user-sockets"))
    executor = Executor(build_schema(), settings.graphql_document_cache_size)
    services = Services(
        settings=settings,
        executor=executor,
        live=LiveQueries(executor, registry),
        registry=registry,
        realtime=realtime,
        templates=templates(settings),
        heartbeat=Heartbeat(settings.websocket_ping_interval),
    )
    handler_args = {"services": services}
    samples, sampler = _sample_metrics_every_second()
    services.chores.append(sampler)
    services.chores.append(_prune_request_keys_every(settings.request_key_prune_every))
    if services.heartbeat.timer is not None:
        services.heartbeat.start()
        services.chores.append(services.heartbeat.timer)
    status_args = {**handler_args, "samples": samples}
    stream_args = {**handler_args, "reservations": Reservations(IOLoop.current().call_later)}
    routes: list[Rule | tuple[str, type, dict[str, Any]]] = [
        (r"/", HomeHandler, handler_args),
        (r"/counters", CountersPageHandler, handler_args),
        (rf"/counters/{COUNTER_NAME}", CounterPageHandler, handler_args),
        (rf"/counters/{COUNTER_NAME}/follow", CounterFollowPageHandler, handler_args),
        (r"/library", LibraryPageHandler, handler_args),
        (r"/signup", SignUpPageHandler, handler_args),
        (r"/login", LogInPageHandler, handler_args),
        (r"/logout", LogOutHandler, handler_args),
        Rule(WebSocketUpgrade(r"/graphql$"), GraphQLSocketHandler, handler_args),
        Rule(EventStreamRequest(r"/graphql$"), GraphQLEventStreamHandler, stream_args),
        (r"/graphql", GraphQLHandler, handler_args),
        (rf"/ws/counter/{COUNTER_NAME}", CounterSocketHandler, handler_args),
        (r"/healthz", HealthHandler, handler_args),
        (r"/metrics", MetricsHandler, handler_args),
        (r"/status", StatusPageHandler, status_args),
        (r"/status\.json", StatusSamplesHandler, status_args),
        *uplot_routes(handler_args),
    ]
    return tornado.web.Application(
        routes,
        default_handler_class=NotFoundHandler,
        default_handler_args=handler_args,
        services=services,
        static_path=str(STATIC_DIR),
        cookie_secret=settings.secret_key,
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"httponly": True, "samesite": "Lax"},
        login_url="/login",
        debug=settings.debug,
        log_function=_log_request,
        # (No websocket_ping_interval: Tornado would run a ping task per
        # socket; services.heartbeat pings them all from one timer.)
        websocket_max_message_size=settings.websocket_max_message_size,
    )


def close_app(app: tornado.web.Application) -> None:
    """Undoes what `make_app` installed (see its docstring): stops its
    periodic work and resets the module state to what it was before, so
    that another application can be made in this process. Stopping the
    realtime, which may take a moment, is `Realtime.stop`'s job, before."""
    services: Services = app.settings["services"]
    for chore in (*services.chores, *services.realtime.chores):
        chore.stop()
    reset_globals()


def reset_globals() -> None:
    """Module state as it is before any `make_app`."""
    events.set_publisher(None)
    stream.keep_history_in_database(None)
    throttle.reset()
    request_keys.remember_for(None)
    metrics.users_connected.set_function(lambda: 0)
    db.close_database()
