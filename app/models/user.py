"""Accounts: signing up and signing in."""

from __future__ import annotations

import re

import peewee

from app.clock import utcnow
from app.db import database
from app.events import Actor
from app.models import throttle
from app.models.base import BaseModel
from app.models.errors import InvalidInput, Unauthenticated
from app.models.passwords import HashingBusy, hash_password, verify_password

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{3,32}")
PASSWORD_MIN = 8
#: Hashing is deliberately slow; a megabyte password must not make it slower.
PASSWORD_MAX = 1024
WRONG_CREDENTIALS = "Wrong username or password."
#: Seconds a sign-up refused for a full hashing queue is told to wait.
BUSY_RETRY_AFTER = 5


def check_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInput(
            f"A username is 3 to 32 characters of letters, digits, '_' and '-'; got {username!r}."
        )
    return username


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise InvalidInput(f"A password needs at least {PASSWORD_MIN} characters.")
    if len(password) > PASSWORD_MAX:
        raise InvalidInput(f"A password may have at most {PASSWORD_MAX} characters.")
    return password


class UsernameTaken(InvalidInput):
    """Someone has this username already."""

    def __init__(self, username: str) -> None:
        super().__init__(f"The username {username!r} is taken; choose another.")


class User(BaseModel):
    id: peewee.AutoField[int]
    username = peewee.CharField(max_length=32)
    #: The username folded to lower case: unique, so that "Ada" and "ada"
    #: cannot both exist.
    username_key = peewee.CharField(max_length=32, unique=True)
    password_hash = peewee.CharField(max_length=255)
    created_at = peewee.DateTimeField()

    def as_actor(self) -> Actor:
        return Actor(id=self.id, username=self.username, created_at=self.created_at)

    @classmethod
    def by_username(cls, username: str) -> User | None:
        return cls.get_or_none(cls.username_key == username.lower())

    @classmethod
    async def sign_up(cls, username: str, password: str, address: str | None = None) -> User:
        """A new user; sign-ups from one address are limited
        (app.models.throttle), and refused while too many wait to be hashed."""
        return cls.make(username, await cls.new_password_hash(username, password, address))

    @classmethod
    async def new_password_hash(
        cls, username: str, password: str, address: str | None = None
    ) -> str:
        """A sign-up's checks, then its password's hash: a taken username is
        refused (`UsernameTaken`) before any hashing."""
        check_username(username)
        check_password(password)
        throttle.check_sign_up(address)
        if cls.by_username(username) is not None:
            raise UsernameTaken(username)
        throttle.record_sign_up(address)
        try:
            return await hash_password(password)
        except HashingBusy:
            raise throttle.TooManyAttempts(
                "Too many people are signing up at this moment; try again in a few seconds.",
                retry_after=BUSY_RETRY_AFTER,
            ) from None

    @classmethod
    def make(cls, username: str, password_hash: str) -> User:
        """The new user's row, from `new_password_hash`."""
        try:
            with database.atomic():
                return cls.create(
                    username=username,
                    username_key=username.lower(),
                    password_hash=password_hash,
                    created_at=utcnow(),
                )
        except peewee.IntegrityError:
            # Taken while we were hashing.
            raise UsernameTaken(username) from None

    @classmethod
    async def authenticate(cls, username: str, password: str, address: str | None = None) -> User:
        """The user with these credentials; the same refusal for an unknown
        user and a wrong password, after the same time. Failures count
        against the username at the client's address and against the
        address (app.models.throttle)."""
        throttle.check(username, address)
        possible = USERNAME_PATTERN.fullmatch(username) and len(password) <= PASSWORD_MAX
        user = cls.by_username(username) if possible else None
        stored = user.password_hash if user is not None else None
        succeeded = await verify_password(stored, password[:PASSWORD_MAX]) and user is not None
        throttle.record(username, address, succeeded)
        if not succeeded or user is None:
            raise Unauthenticated(WRONG_CREDENTIALS)
        return user
