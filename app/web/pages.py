"""Server-rendered pages."""

from __future__ import annotations

from app.models.counter import Counter
from app.models.errors import DomainError
from app.web.base import BaseHandler


class HomeHandler(BaseHandler):
    def get(self) -> None:
        self.render_page("index.html")


class CounterPageHandler(BaseHandler):
    def get(self, name: str) -> None:
        try:
            counter = Counter.lookup(name)
        except DomainError as error:
            self.set_status(400)
            self.render_page("error.html", status=400, reason=str(error))
            return
        self.render_page("counter.html", name=counter.name, value=counter.value)
