"""Signing up, in and out."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from app.api.resolvers.base import Context
from app.models.auth_token import AuthToken
from app.models.user import User


def _signed_in(info: GraphQLResolveInfo, user: User) -> dict[str, Any]:
    credential, token = AuthToken.issue(user)
    context: Context = info.context
    context.session.signed_in(credential, token)
    return {"token": token, "user": user}


async def sign_up(_root: None, info: GraphQLResolveInfo, username: str, password: str) -> Any:
    context: Context = info.context
    return _signed_in(info, await User.sign_up(username, password, context.address))


async def sign_in(_root: None, info: GraphQLResolveInfo, username: str, password: str) -> Any:
    context: Context = info.context
    return _signed_in(info, await User.authenticate(username, password, context.address))


def sign_out(_root: None, info: GraphQLResolveInfo) -> bool:
    """Revokes the credential of this request; False when there was none."""
    context: Context = info.context
    if context.credential is None:
        return False
    context.credential.revoke()
    context.session.signed_out()
    return True
