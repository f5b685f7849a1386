"""`GET /healthz`: for load balancers and scripts that wait for start-up."""

from __future__ import annotations

from app import db
from app.web.base import BaseHandler


class HealthHandler(BaseHandler):
    def get(self) -> None:
        if db.is_healthy():
            self.write_json({"status": "ok"})
        else:
            self.write_json({"status": "unavailable", "database": "not answering"}, status=503)
