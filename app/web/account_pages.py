"""Sign-up, log-in and sign-out as plain forms that work without JavaScript.

Form posts are protected by Tornado's xsrf check (the `_xsrf` field).
"""

from __future__ import annotations

import re

from app.db import settled
from app.models.auth_token import AuthToken
from app.models.errors import DomainError
from app.models.user import User
from app.web.auth import CookieSession, client_address
from app.web.base import PageHandler

#: A path on this site, in printable ASCII: no control characters (a
#: browser drops tabs and newlines, so "/\t/evil.example" would become
#: "//evil.example"; CR LF would split the header), no spaces, no
#: backslashes (read as "/" by browsers) and no "//" at the start (another
#: host). Links to our pages are percent-encoded, so this takes them all.
SAFE_NEXT = re.compile(r"/(?!/)[!-\[\]-~]*")


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect, never a header
    split; anything else goes to the library."""
    if target and SAFE_NEXT.fullmatch(target):
        return target
    return "/library"


#: A username is echoed back into the form after an error, up to this long.
MAX_ECHOED_USERNAME = 64


class AccountFormHandler(PageHandler):
    heading = ""
    button = ""
    action = ""

    def show(self, error: str = "", username: str = "", status: int = 200) -> None:
        self.render_page(
            "account_form.html",
            heading=self.heading,
            button=self.button,
            action=self.action,
            error=error,
            username=username[:MAX_ECHOED_USERNAME],
            next_url=safe_next(self.get_argument("next", None)),
            status_code=status,
        )

    def get(self) -> None:
        self.show()

    async def post(self) -> None:
        username = self.get_body_argument("username", "").strip()
        password = self.get_body_argument("password", "")
        try:
            user = await self.check(username, password)
        except DomainError as error:
            self.show(str(error), username, status=400)
            return
        credential, token = AuthToken.issue(user)
        await settled()  # the credential is durable before the cookie is given
        CookieSession(self).signed_in(credential, token)
        self.redirect(safe_next(self.get_body_argument("next", None)), status=303)

    async def check(self, username: str, password: str) -> User:
        raise NotImplementedError


class SignUpPageHandler(AccountFormHandler):
    heading, button, action = "Sign up", "Sign up", "/signup"

    async def check(self, username: str, password: str) -> User:
        return await User.sign_up(username, password, client_address(self))


class LogInPageHandler(AccountFormHandler):
    heading, button, action = "Log in", "Log in", "/login"

    async def check(self, username: str, password: str) -> User:
        return await User.authenticate(username, password, client_address(self))


class LogOutHandler(PageHandler):
    async def post(self) -> None:
        if self.credential is not None:
            self.credential.revoke()
            await settled()
        CookieSession(self).signed_out()
        self.redirect("/", status=303)
