"""Every path that no route matches: the site's own 404 page (or a JSON
error for API clients), instead of Tornado's bare one."""

from __future__ import annotations

import tornado.web

from app.web.base import PageHandler


class NotFoundHandler(PageHandler):
    """Tornado's `default_handler_class`: answers 404 to every method."""

    def check_xsrf_cookie(self) -> None:
        # Nothing here changes anything: a POST to a wrong address is a
        # 404 like a GET, not a 403 about a missing xsrf token.
        return None

    def prepare(self) -> None:
        # write_error renders templates/error.html for browsers.
        raise tornado.web.HTTPError(404)
