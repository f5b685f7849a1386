"""`make_app(settings)`: the one place the application is assembled.

Both `server.py` and the tests call it. It opens and migrates the
database, builds the schema and the registry, installs the registry
behind `app.events.publish`, and returns the Tornado application.
"""

from __future__ import annotations

import logging

import jinja2
import tornado.web
from tornado.routing import Rule

from app import db, events
from app.api.execution import Executor
from app.api.schema import build as build_schema
from app.config import PROJECT_ROOT, Settings
from app.realtime.registry import Registry
from app.services import Services
from app.web.counter_socket import CounterSocketHandler
from app.web.graphql_http import GraphQLHandler
from app.web.graphql_socket import GraphQLSocketHandler, WebSocketUpgrade
from app.web.health import HealthHandler
from app.web.pages import CounterPageHandler, HomeHandler

log = logging.getLogger(__name__)

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"
COUNTER_NAME = r"([^/]*)"


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """No line per request on the hot path: only failures are logged."""
    status = handler.get_status()
    if status >= 500:
        request = handler.request
        log.error("%d %s %s", status, request.method, request.uri)


def make_app(settings: Settings) -> tornado.web.Application:
    database = db.open_database(settings.database_url)
    db.migrate(database)
    registry = Registry()
    events.set_publisher(registry.publish)
    services = Services(
        settings=settings,
        executor=Executor(build_schema(), settings.graphql_document_cache_size),
        registry=registry,
        templates=jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,
            auto_reload=settings.debug,
        ),
    )
    handler_args = {"services": services}
    routes = [
        (r"/", HomeHandler, handler_args),
        (rf"/counters/{COUNTER_NAME}", CounterPageHandler, handler_args),
        Rule(WebSocketUpgrade(r"/graphql$"), GraphQLSocketHandler, handler_args),
        (r"/graphql", GraphQLHandler, handler_args),
        (rf"/ws/counter/{COUNTER_NAME}", CounterSocketHandler, handler_args),
        (r"/healthz", HealthHandler, handler_args),
    ]
    return tornado.web.Application(
        routes,
        services=services,
        static_path=str(STATIC_DIR),
        cookie_secret=settings.secret_key,
        debug=settings.debug,
        log_function=_log_request,
        websocket_ping_interval=settings.websocket_ping_interval,
        websocket_max_message_size=settings.websocket_max_message_size,
    )
