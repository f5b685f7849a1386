"""Accounts: who a visitor is when they sign in."""

from __future__ import annotations

import peewee

from app.events import Actor
from app.models.base import BaseModel


class User(BaseModel):
    username = peewee.CharField(max_length=32)
    #: The username folded to lower case: unique, so that "Ada" and "ada"
    #: cannot both exist.
    username_key = peewee.CharField(max_length=32, unique=True)
    password_hash = peewee.CharField(max_length=255)
    created_at = peewee.DateTimeField()

    def as_actor(self) -> Actor:
        return Actor(id=self.id, username=self.username, created_at=self.created_at)
