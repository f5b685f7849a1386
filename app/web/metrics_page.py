"""`GET /metrics`: Prometheus text format, for an operator's scraper.

When METRICS_TOKEN is set, the scraper must send it as a bearer token;
otherwise the endpoint is open (fine on a private network, not on the
internet: set the token there).
"""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.web.base import BaseHandler


class MetricsHandler(BaseHandler):
    def get(self) -> None:
        token = self.services.settings.metrics_token
        if token:
            given = self.request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                self.set_header("WWW-Authenticate", "Bearer")
                self.write_json({"error": "Send METRICS_TOKEN as a bearer token."}, status=401)
                return
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest())
