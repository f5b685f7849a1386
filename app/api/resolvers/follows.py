"""Following counters: the viewer's own follows, and changing them.

Every resolver works on the viewer's follows only; there is no argument
naming a user, so nobody can read or change another's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo, OperationType

from app.api.pagination import check_first, connection, cursor_row_key, decode_cursor, encode_cursor
from app.api.resolvers.base import Context
from app.api.resolvers.counters import CounterLike
from app.models import account_requests
from app.models.counter import Counter
from app.models.errors import Unauthenticated
from app.models.follow import CounterFollow
from app.models.request_keys import check_request_key
from app.models.user import User


def _follower(info: GraphQLResolveInfo, what: str) -> User:
    context: Context = info.context
    if context.viewer is None:
        raise Unauthenticated(f"{what} needs a signed-in user; sign in first.")
    return context.viewer


def following(
    _root: None, info: GraphQLResolveInfo, first: int, after: str | None = None
) -> dict[str, Any]:
    user = _follower(info, "following")
    check_first(first)
    before = None
    if after is not None:
        (raw,) = decode_cursor(after, 1)
        before = cursor_row_key(after, raw)
    follows = CounterFollow.page(user, first + 1, before)
    counters = CounterFollow.counters_of(follows[:first])
    shaped = connection(
        follows,
        first,
        after,
        lambda follow: encode_cursor(follow.id),
        lambda: CounterFollow.count_for(user),
    )
    for edge in shaped["edges"]:
        edge["node"] = counters[edge["node"].counter_name]
    return shaped


def followed_by_viewer(source: CounterLike, info: GraphQLResolveInfo) -> bool | None:
    """Counter.followedByViewer: one lookup per counter asked about (a
    list of 100 asks 100, each one index probe); null when signed out,
    since a signed-out viewer follows nothing and cannot; null in a
    subscription's events, which would otherwise cost a lookup per
    subscriber per event in the middle of a fan-out."""
    context: Context = info.context
    if context.viewer is None or info.operation.operation is OperationType.SUBSCRIPTION:
        return None
    return CounterFollow.follows(context.viewer, source.name)


def _change(
    info: GraphQLResolveInfo,
    operation: str,
    name: str,
    key: str | None,
    change: Callable[[User, str], bool],
) -> Counter:
    """followCounter and unfollowCounter: with a key, the change is made
    once and a retry changes nothing (app.models.account_requests); either
    way the answer is the counter."""
    if key is not None:
        check_request_key(key)
    user = _follower(info, operation)
    if key is None:
        change(user, name)
    else:
        account_requests.change_once(
            user, key, operation, {"name": name}, lambda: change(user, name)
        )
    return Counter.lookup(name)


def follow_counter(
    _root: None, info: GraphQLResolveInfo, name: str, clientMutationId: str | None = None
) -> Counter:
    return _change(info, "followCounter", name, clientMutationId, CounterFollow.follow)


def unfollow_counter(
    _root: None, info: GraphQLResolveInfo, name: str, clientMutationId: str | None = None
) -> Counter:
    return _change(info, "unfollowCounter", name, clientMutationId, CounterFollow.unfollow)
