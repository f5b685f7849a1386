"""Exactly-once account changes: signUp, signIn, signOut, followCounter and
unfollowCounter sent with a key of the client's own (`clientMutationId`).

A key is its account's: one row per (user, key), with what the change
asked (its mutation and arguments, digested by `request_keys.digest`;
never a password) so that the same key for another change is refused.
The unique index is what a retry looks the key up by, and what makes two
retries racing on two processes unable to both apply: the key is
claimed by inserting its row in the change's own transaction, and whoever
inserts second waits for the first to commit (PostgreSQL; SQLite writes
one at a time) and finds the row. `created_at` is the key's first use: the
key answers for the window of app.models.request_keys from then, and past
it is treated as never seen (its row is replaced when the key is used
again, and deleted by the periodic prune, `forget`).

Whose key it is. A follow, an unfollow and a sign-out name their user by
the credential they present. A sign-up or sign-in is anonymous and names
an account by its username; its key is looked at only after the password
has been verified against that account's stored hash, as any sign-in is
(argon2, the same throttle, the same time whatever the key). So a key
without the password gets the refusal that no key gets, and a guessed key
with the right password gets a session, which the password alone gets
too. (It also revokes the session that key's first answer issued: keys
are the client's random own, a UUID, so guessing one is not a way in.)

What a retry gets:

- followCounter, unfollowCounter: the counter, as a first answer does, and
  nothing changes. They are idempotent in effect, yet the key is kept all
  the same: the follow's row cannot say which key made it, so neither a
  retry of "follow" sent after a later "unfollow" (which must not follow
  again) nor the same key for another counter could be told apart.
- signUp, signIn: the same user and a token. A token is stored only as its
  hash, so the first answer's cannot be given again: the retry gets a
  fresh credential, and the one the key's earlier answer issued is revoked
  in the same transaction; the row keeps the live one's id, replaced by
  compare-and-set, so however many retries (at once, too) one session is
  left live. A sign-up retried without the right password, or with a key
  this account never used, is refused as a taken username is.
- signOut: true. The row is kept with the revocation, naming the revoked
  credential; the retry presents the same (now revoked) token, which the
  request still recognises (app.web.auth), and finds the row by it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import peewee

from app.clock import utcnow
from app.db import database
from app.events import CredentialRevoked, publish
from app.models import request_keys
from app.models.auth_token import AuthToken
from app.models.base import BaseModel
from app.models.errors import DomainError, InvalidInput, Unauthenticated, Unavailable
from app.models.request_keys import check_request_key, digest
from app.models.user import User, UsernameTaken

#: Times a keyed sign-in tries to keep its credential as the key's answer
#: when another retry of the same key keeps its own first (each loss means
#: another retry succeeded).
ATTEMPTS = 5


class AccountRequest(BaseModel):
    id: peewee.AutoField[int]
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", index=False)
    user_id: peewee.ForeignKeyField[int]
    key = peewee.CharField(max_length=100)
    asked = peewee.CharField(max_length=64)
    #: signUp, signIn: the credential the key's latest answer issued;
    #: signOut: the one it revoked; follows: null.
    credential_id = peewee.IntegerField(null=True)
    created_at = peewee.DateTimeField()

    class Meta:
        indexes = ((("user", "key"), True), (("created_at",), False))


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in answer: the user, and a new credential with its token."""

    user: User
    credential: AuthToken
    token: str


class _Lost(Exception):
    """Another request kept this key first; nothing of ours was kept."""


class TooManyRetries(Unavailable):
    retry_after = 1

    def __init__(self) -> None:
        super().__init__(
            "Many requests with this key arrived at once, so nothing was changed; "
            "try again in a moment."
        )


def _another_change(key: str) -> InvalidInput:
    return InvalidInput(
        f"The request key {key!r} was already used for another change of your "
        "account; nothing was changed. Use a new key for a new change."
    )


def _kept(user_id: int, key: str) -> AccountRequest | None:
    """The key's row, unless there is none within its window."""
    return AccountRequest.get_or_none(
        (AccountRequest.user == user_id)
        & (AccountRequest.key == key)
        & (AccountRequest.created_at > request_keys.cutoff(utcnow()))
    )


def _claim(user_id: int, key: str, asked: str, credential_id: int | None = None) -> bool:
    """Keeps `key` for this change, in the caller's transaction; False when
    the key was kept before, within its window (then nothing is written).
    A row of the key past its window, not yet pruned, gives way."""
    AccountRequest.delete().where(
        (AccountRequest.user == user_id)
        & (AccountRequest.key == key)
        & (AccountRequest.created_at <= request_keys.cutoff(utcnow()))
    ).execute()
    made = (
        AccountRequest.insert(
            user=user_id, key=key, asked=asked, credential_id=credential_id, created_at=utcnow()
        )
        .on_conflict_ignore()
        .execute()
    )
    return made is not None


def _same_change(user_id: int, key: str, asked: str) -> None:
    """Refuses a key that was kept for another change than `asked`."""
    row = _kept(user_id, key)
    if row is not None and row.asked != asked:
        raise _another_change(key)


# ------------------------------------------------------------------ follows


def change_once(
    user: User,
    key: str,
    operation: str,
    arguments: dict[str, object],
    change: Callable[[], object],
) -> None:
    """Makes `change` (a follow or an unfollow: `operation` with `arguments`)
    in one transaction with claiming `key`, or nothing when the key made
    the same change before; a change refused rolls its claim back."""
    check_request_key(key)
    asked = digest(operation, arguments)
    with database.atomic():
        if _claim(user.id, key, asked):
            change()
            return
    _same_change(user.id, key, asked)


# ---------------------------------------------------------------- sign-out


def _signed_out(credential: AuthToken) -> str:
    return digest("signOut", {"credential": credential.id})


def sign_out(credential: AuthToken, key: str) -> None:
    """Revokes `credential`, keeping `key` with the revocation."""
    check_request_key(key)
    asked = _signed_out(credential)
    with database.atomic():
        claimed = _claim(credential.user_id, key, asked, credential.id)
        revoked = AuthToken.revoke_within(credential.id, credential.user_id) if claimed else None
    if not claimed:
        # Kept before: by this sign-out racing itself (then it is done), or
        # by another change.
        _same_change(credential.user_id, key, asked)
    if revoked is not None:
        publish(revoked)


def signed_out_before(revoked: AuthToken, key: str) -> bool:
    """Whether `key` is the sign-out that revoked `revoked` (a retry);
    refuses a key this account used for another change."""
    check_request_key(key)
    row = _kept(revoked.user_id, key)
    if row is None:
        return False
    if row.asked != _signed_out(revoked):
        raise _another_change(key)
    return True


# ------------------------------------------------------ sign-up and sign-in


async def sign_up(username: str, password: str, address: str | None, key: str) -> Session:
    """signUp with a key: the account is made once, with its session and
    the key in one transaction. When the username is taken, this may be a
    retry: if this key made that account's sign-up, the password is
    verified as a sign-in's, and with the right one the answer is the
    account and a new session (the key's earlier one revoked). Otherwise it
    is refused as a taken username is without a key."""
    check_request_key(key)
    asked = digest("signUp", {"username": username.lower()})
    try:
        password_hash = await User.new_password_hash(username, password, address)
        with database.atomic():
            user = User.make(username, password_hash)
            credential, token = AuthToken.issue(user)
            _claim(user.id, key, asked, credential.id)
        return Session(user, credential, token)
    except UsernameTaken as taken:
        refusal = taken
    # A retry only if this key made this account's sign-up (within its
    # window): otherwise the answer is the one a keyless sign-up gets, at
    # once, and no password is tried (so no sign-in limit is spent on it).
    # That tells whether a key was used, which a random key keeps to its
    # client.
    owner = User.by_username(username)
    kept = None if owner is None else _kept(owner.id, key)
    if kept is None or kept.asked != asked:
        raise refusal
    try:
        user = await User.authenticate(username, password, address)
    except Unauthenticated:
        raise refusal from None
    return _session(user, key, asked, refusal)


async def sign_in(username: str, password: str, address: str | None, key: str) -> Session:
    """signIn with a key: a new session, the key's earlier one (a retry
    whose first answer was lost) revoked."""
    check_request_key(key)
    user = await User.authenticate(username, password, address)
    return _session(user, key, digest("signIn", {"username": username.lower()}))


def _session(user: User, key: str, asked: str, unkept: DomainError | None = None) -> Session:
    """A new credential for `user`, kept as `key`'s answer; the one the
    key kept before is revoked in the same transaction. A key this account
    never used is claimed now, unless `unkept` says why that is refused."""
    for _ in range(ATTEMPTS):
        row = _kept(user.id, key)
        if row is None and unkept is not None:
            raise unkept
        if row is not None and row.asked != asked:
            raise _another_change(key)
        try:
            with database.atomic():
                credential, token = AuthToken.issue(user)
                revoked = _keep_credential(user.id, key, asked, row, credential.id)
        except _Lost:
            continue
        if revoked is not None:
            publish(revoked)
        return Session(user, credential, token)
    raise TooManyRetries


def _keep_credential(
    user_id: int, key: str, asked: str, row: AccountRequest | None, credential_id: int
) -> CredentialRevoked | None:
    """In the caller's transaction: `credential_id` becomes the key's answer
    if the key's row is still as read (`row`), the earlier answer's
    credential revoked; else `_Lost`, which rolls the transaction back."""
    if row is None:
        if not _claim(user_id, key, asked, credential_id):
            raise _Lost
        return None
    moved = (
        AccountRequest.update(credential_id=credential_id)
        .where((AccountRequest.id == row.id) & (AccountRequest.credential_id == row.credential_id))
        .execute()
    )
    if not moved:
        raise _Lost
    if row.credential_id is None:
        return None
    return AuthToken.revoke_within(row.credential_id, user_id)


def forget(before: datetime, limit: int) -> int:
    """Deletes at most `limit` keys first used at or before `before` (past
    their window); returns how many. As `library_requests.forget`."""
    expired = request_keys.skip_locked(
        AccountRequest.select(AccountRequest.id)
        .where(AccountRequest.created_at <= before)
        .limit(limit)
    )
    return AccountRequest.delete().where(AccountRequest.id.in_(expired)).execute()
