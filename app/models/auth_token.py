"""Credentials: the random tokens behind bearer headers and session cookies.

A token is 256 random bits, shown to its owner once and stored only as its
SHA-256 hash. Looking a token up by its hash is safe against timing: an
attacker who varies the token varies the whole hash unpredictably, so how
long the index lookup takes says nothing about any stored token.

Signing out revokes the token and publishes `CredentialRevoked`, which
closes every socket opened with it. A revoked token's row stays, so a
request presenting it can still be told apart from one presenting nothing
(`presented`): a retried sign-out is answered by it
(app.models.account_requests).
"""

from __future__ import annotations

import hashlib
import secrets

import peewee

from app.clock import utcnow
from app.db import database
from app.events import CredentialRevoked, publish
from app.models.base import BaseModel
from app.models.user import User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthToken(BaseModel):
    id: peewee.AutoField[int]
    user = peewee.ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    user_id: peewee.ForeignKeyField[int]
    token_hash = peewee.CharField(max_length=64, unique=True)
    created_at = peewee.DateTimeField()
    revoked_at = peewee.DateTimeField(null=True)

    @classmethod
    def issue(cls, user: User) -> tuple[AuthToken, str]:
        """A new credential for `user`, and the token that proves it."""
        token = secrets.token_urlsafe(32)
        row = cls.create(user=user, token_hash=_digest(token), created_at=utcnow())
        return row, token

    @classmethod
    def find(cls, token: str) -> AuthToken | None:
        """The live credential for `token` (with its user), or None."""
        credential = cls.presented(token)
        return credential if credential is not None and credential.live else None

    @classmethod
    def presented(cls, token: str) -> AuthToken | None:
        """The credential for `token` (with its user), live or revoked, or
        None: the same one lookup by hash as `find`."""
        if not token or len(token) > 256:
            return None
        return cls.select(cls, User).join(User).where(cls.token_hash == _digest(token)).first()

    @property
    def live(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        with database.atomic():
            revoked = AuthToken.revoke_within(self.id, self.user_id)
        if revoked is not None:
            publish(revoked)

    @classmethod
    def revoke_within(cls, credential_id: int, user_id: int) -> CredentialRevoked | None:
        """Revokes a credential in the caller's transaction; the event to
        publish once that commits, or None if it was revoked already."""
        revoked = (
            cls.update(revoked_at=utcnow())
            .where((cls.id == credential_id) & cls.revoked_at.is_null())
            .execute()
        )
        return CredentialRevoked(credential_id=credential_id, user_id=user_id) if revoked else None
