"""Server-rendered pages: readable without JavaScript, made live by
the small modules in static/js.

A live page is rendered with the position of its stream (`position`), so
that its script subscribes from there instead of fetching what the page
already shows. A library's position is read before its data: a change
committed in between is then both shown and sent again (the page applies
events idempotently), never lost. A counter's is its operation count, read
with its value. A signed-in viewer's live pages are also rendered with
the position of their notifications stream (`notifications`), so that
each notification from then on is shown, even one sent before the page's
socket is open.
"""

from __future__ import annotations

import logging
from datetime import UTC

import tornado.web

from app.db import in_write_batch, settled
from app.events import (
    Topic,
    counter_presence_key,
    counter_topic,
    library_topic,
    notifications_topic,
    user_presence_key,
)
from app.models.counter import OPERATION_TYPES, Counter, CounterOperation, check_name
from app.models.errors import DomainError
from app.models.follow import CounterFollow
from app.models.library import overview
from app.realtime.history import Position
from app.web.base import PageHandler
from app.web.watching import Watching, watching

log = logging.getLogger(__name__)

#: Changes the counter page charts (the most `history(first:)` gives) and lists.
CHART_POINTS = 100
HISTORY_ITEMS = 20


async def _position(handler: PageHandler, topic: Topic) -> Position | None:
    """Where the stream is now; None when its history cannot be read (the
    page's script then starts from "now" and fetches its state)."""
    try:
        return await handler.services.history.position(topic)
    except Exception as error:  # Redis away, say: the page still renders
        log.warning("could not read the position of %s: %s", topic, error)
        return None


async def _watching(handler: PageHandler, name: str) -> Watching:
    """Who watches the counter as the page is rendered: one presence read
    (the same one a count alone costs), worded for the viewer. The page's
    own socket is not open yet; its script keeps the line live from there."""
    count, members = await handler.services.presence.watching(counter_presence_key(name))
    viewer = handler.current_user
    return watching(count, members, viewer.username if viewer else None)


async def _notifications(handler: PageHandler) -> Position | None:
    """Where the viewer's notifications stream is (static/js/notifications.js
    shows each one after it); None when signed out or unreadable."""
    viewer = handler.current_user
    if viewer is None:
        return None
    return await _position(handler, notifications_topic(viewer.id))


def _follows(handler: PageHandler, name: str) -> bool:
    """Whether the viewer follows the counter: the state its Follow button
    is rendered in."""
    viewer = handler.current_user
    return viewer is not None and CounterFollow.follows(viewer, name)


def _chart_points(history: list[CounterOperation]) -> list[tuple[float, int, int | None]]:
    """The counter page's chart as rendered, oldest first, for it to start
    from what is shown; each point with its operation number, to tell the
    live events it already has."""
    return [
        (op.timestamp.replace(tzinfo=UTC).timestamp(), op.value, op.operation_number)
        for op in reversed(history)
    ]


async def _counter_refused(handler: PageHandler, name: str, message: str) -> None:
    """The counter page again after a form it posted was refused (without
    JavaScript), saying why in its error line."""
    counter = Counter.lookup(name)
    history = counter.recent_history(CHART_POINTS)
    handler.render_page(
        "counter.html",
        counter=counter,
        history=history[:HISTORY_ITEMS],
        chart_points=_chart_points(history),
        watching=await _watching(handler, name),
        following=_follows(handler, name),
        error=message,
        status_code=400,
    )


async def _epoch(handler: PageHandler, topic: Topic) -> str | None:
    """The epoch of the stream's history; None as for `_position`."""
    try:
        return await handler.services.history.epoch(topic)
    except Exception as error:
        log.warning("could not read the epoch of %s: %s", topic, error)
        return None


class HomeHandler(PageHandler):
    def get(self) -> None:
        self.render_page("index.html")


def _bad_name(handler: PageHandler, name: str) -> bool:
    """Whether `name` is no counter's name; if so, the page says why (400)."""
    try:
        check_name(name)
    except DomainError as error:
        handler.render_page("error.html", status=400, reason=str(error), status_code=400)
        return True
    return False


class CountersPageHandler(PageHandler):
    async def get(self) -> None:
        name = self.get_query_argument("name", None)
        if name is not None:  # the "open or create" form
            try:
                self.redirect(f"/counters/{check_name(name.strip())}")
            except DomainError as error:
                self.render_page("error.html", status=400, reason=str(error), status_code=400)
            return
        notifications = await _notifications(self)
        counters = Counter.page_by_recent_change(50)
        await settled()  # what it shows is durable (app.group_commit)
        self.render_page("counters.html", counters=counters, notifications=notifications)


class CounterPageHandler(PageHandler):
    async def get(self, name: str) -> None:
        if _bad_name(self, name):
            return
        # A counter's offset is its operation count: the rendered one is
        # exactly the position of what the page shows.
        epoch = await _epoch(self, counter_topic(name))
        counter = Counter.lookup(name)
        position = None if epoch is None else Position(counter.operation_count, epoch)
        who = await _watching(self, name)
        notifications = await _notifications(self)
        history = counter.recent_history(CHART_POINTS)
        following = _follows(self, name)
        await settled()  # what it shows is durable, and its position taken
        self.render_page(
            "counter.html",
            counter=counter,
            history=history[:HISTORY_ITEMS],
            chart_points=_chart_points(history),
            watching=who,
            position=position,
            following=following,
            notifications=notifications,
        )

    async def post(self, name: str) -> None:
        """The buttons without JavaScript: one change, then back to the page."""
        if _bad_name(self, name):
            return
        op = self.get_body_argument("op", "")
        if op not in OPERATION_TYPES:
            raise tornado.web.HTTPError(400, reason=f"Unknown operation {op!r}")
        try:
            amount = int(self.get_body_argument("amount", "1") or "1")
            await in_write_batch(Counter.change, name, op, amount, self.current_user)
        except (DomainError, ValueError) as error:
            message = (
                str(error)
                if isinstance(error, DomainError)
                else "The amount must be a whole number."
            )
            await _counter_refused(self, name, message)
            return
        self.redirect(f"/counters/{name}", status=303)


class CounterFollowPageHandler(PageHandler):
    """The Follow button without JavaScript: the form says the state wanted
    (follow=1 or 0), so a second press of a stale page changes nothing;
    then back to the counter's page."""

    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        if _bad_name(self, name):
            return
        wanted = self.get_body_argument("follow", "") == "1"
        change = CounterFollow.follow if wanted else CounterFollow.unfollow
        try:
            await in_write_batch(change, self.current_user, name)
        except DomainError as error:
            await _counter_refused(self, name, str(error))
            return
        self.redirect(f"/counters/{name}", status=303)


class LibraryPageHandler(PageHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        tabs = await self.services.presence.count(user_presence_key(self.current_user.id))
        position = await _position(self, library_topic(self.current_user.id))
        notifications = await _notifications(self)
        library = overview(self.current_user)
        await settled()  # what it shows is durable, and its position taken
        self.render_page(
            "library.html",
            overview=library,
            tabs=tabs,
            position=position,
            notifications=notifications,
        )
