"""Signing up, in and out.

Each takes an optional `clientMutationId`: with it, a retry gets the first
answer, a fresh token for a sign-up or sign-in whose answer was lost (the
lost one revoked), true for a sign-out (app.models.account_requests).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from app.api.resolvers.base import Context
from app.models import account_requests
from app.models.auth_token import AuthToken
from app.models.request_keys import check_request_key
from app.models.user import User


def _answer(info: GraphQLResolveInfo, user: User, credential: AuthToken, token: str) -> Any:
    context: Context = info.context
    context.session.signed_in(credential, token)
    return {"token": token, "user": user}


def _signed_in(info: GraphQLResolveInfo, user: User) -> dict[str, Any]:
    credential, token = AuthToken.issue(user)
    return _answer(info, user, credential, token)


def _once(info: GraphQLResolveInfo, session: account_requests.Session) -> Any:
    return _answer(info, session.user, session.credential, session.token)


async def sign_up(
    _root: None,
    info: GraphQLResolveInfo,
    username: str,
    password: str,
    clientMutationId: str | None = None,
) -> Any:
    context: Context = info.context
    if clientMutationId is None:
        return _signed_in(info, await User.sign_up(username, password, context.address))
    return _once(
        info,
        await account_requests.sign_up(username, password, context.address, clientMutationId),
    )


async def sign_in(
    _root: None,
    info: GraphQLResolveInfo,
    username: str,
    password: str,
    clientMutationId: str | None = None,
) -> Any:
    context: Context = info.context
    if clientMutationId is None:
        return _signed_in(info, await User.authenticate(username, password, context.address))
    return _once(
        info,
        await account_requests.sign_in(username, password, context.address, clientMutationId),
    )


def sign_out(_root: None, info: GraphQLResolveInfo, clientMutationId: str | None = None) -> bool:
    """Revokes the credential of this request; False when there was none,
    unless this retries (same key) the sign-out that revoked the token the
    request presents: that one is answered True again."""
    context: Context = info.context
    key = clientMutationId
    if key is not None:
        check_request_key(key)
    if context.credential is not None:
        if key is None:
            context.credential.revoke()
        else:
            account_requests.sign_out(context.credential, key)
    elif (
        key is None
        or context.revoked is None
        or not account_requests.signed_out_before(context.revoked, key)
    ):
        return False
    context.session.signed_out()
    return True
