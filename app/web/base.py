"""Base handlers: shared services, JSON and page output, error pages."""

from __future__ import annotations

from typing import Any

import orjson
import tornado.web
import tornado.websocket
from tornado.httputil import responses

from app.services import Services


class BaseHandler(tornado.web.RequestHandler):
    services: Services

    def initialize(self, services: Services) -> None:
        self.services = services

    def write_json(
        self, payload: Any, status: int = 200, content_type: str = "application/json"
    ) -> None:
        self.set_status(status)
        self.set_header("Content-Type", f"{content_type}; charset=utf-8")
        self.finish(orjson.dumps(payload))

    def render_page(self, template: str, **context: Any) -> None:
        page = self.services.templates.get_template(template)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(page.render(request=self.request, **context))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Never a traceback: Tornado logs it, the client gets a sentence.
        reason = self._reason or responses.get(status_code, "Error")
        if "text/html" in self.request.headers.get("Accept", ""):
            self.render_page("error.html", status=status_code, reason=reason)
        else:
            self.write_json({"error": reason}, status=status_code)


class BaseSocketHandler(tornado.websocket.WebSocketHandler):
    """What every WebSocket of ours does on open; see PERFORMANCE.md."""

    services: Services

    def initialize(self, services: Services) -> None:
        self.services = services

    def refuse(self, status: int, message: str) -> None:
        """Answers the upgrade request with an error instead of a socket."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(orjson.dumps({"error": message}))

    def open(self, *args: str, **kwargs: str) -> None:
        # Nagle's algorithm holds small frames back by up to 40 ms.
        self.set_nodelay(True)
