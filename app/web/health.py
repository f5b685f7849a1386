"""`GET /healthz`: for load balancers and scripts that wait for start-up."""

from __future__ import annotations

from app import db
from app.web.base import BaseHandler


class HealthHandler(BaseHandler):
    async def get(self) -> None:
        """200 while the database answers and can write ("degraded" while
        Redis is away: HTTP and this process's sockets still work); 503,
        with the reason, otherwise. Asked where the database work runs
        (app.db.in_database_thread), so a connection that has to be made
        again is never made on the loop."""
        problem = await db.in_database_thread(db.health_problem)
        if problem is not None:
            self.write_json({"status": "unavailable", "database": problem}, status=503)
            return
        if not self.services.broadcast.healthy:
            self.write_json({"status": "degraded", "redis": "unavailable"})
            return
        self.write_json({"status": "ok"})
