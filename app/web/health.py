"""`GET /healthz`: for load balancers and scripts that wait for start-up."""

from __future__ import annotations

from app import db
from app.web.base import BaseHandler


class HealthHandler(BaseHandler):
    def get(self) -> None:
        """200 while the database answers ("degraded" while Redis is away:
        HTTP and this process's sockets still work); 503 otherwise."""
        if not db.is_healthy():
            self.write_json({"status": "unavailable", "database": "not answering"}, status=503)
            return
        broadcast = self.services.broadcast
        if broadcast is not None and not broadcast.healthy:
            self.write_json({"status": "degraded", "redis": "unavailable"})
            return
        self.write_json({"status": "ok"})
