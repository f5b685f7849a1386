"""Counters: reading, paging, history and the four changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graphql import GraphQLResolveInfo

from app.api.pagination import (
    check_first,
    connection,
    cursor_row_key,
    decode_cursor,
    encode_cursor,
    not_ours,
)
from app.api.resolvers.base import Context
from app.events import CounterChanged, CounterSnapshot, counter_presence_key
from app.ids import to_global_id
from app.models.counter import Counter, CounterOperation

CounterLike = Counter | CounterSnapshot


def counter(_root: None, _info: GraphQLResolveInfo, name: str) -> Counter:
    return Counter.lookup(name)


def counters(
    _root: None, _info: GraphQLResolveInfo, first: int, after: str | None = None
) -> dict[str, Any]:
    check_first(first)
    position = None
    if after is not None:
        stamp, row_id = decode_cursor(after, 2)
        try:
            position = (datetime.fromisoformat(stamp), cursor_row_key(after, row_id))
        except ValueError:
            raise not_ours(after) from None
    rows = Counter.page_by_recent_change(first + 1, position)
    return connection(
        rows,
        first,
        after,
        lambda row: encode_cursor(row.updated_at, row.id),
        Counter.stored_count,
    )


def counter_id(source: CounterLike, _info: GraphQLResolveInfo) -> str:
    return to_global_id("Counter", source.name)


def counter_history(
    source: CounterLike, _info: GraphQLResolveInfo, first: int, after: str | None = None
) -> dict[str, Any]:
    check_first(first)
    after_id = None
    if after is not None:
        (raw,) = decode_cursor(after, 1)
        after_id = cursor_row_key(after, raw)
    rows = CounterOperation.page(source.id, first + 1, after_id)
    return connection(rows, first, after, lambda op: encode_cursor(op.id), source.operation_count)


async def counter_watchers(source: CounterLike, info: GraphQLResolveInfo) -> int:
    """Async, so that it runs on the loop (where presence lives) even when
    the rest of the query runs on the database thread."""
    context: Context = info.context
    if context.presence is None:
        return 0
    return await context.presence.count(counter_presence_key(source.name))


def counter_update_metadata(source: CounterChanged, _info: GraphQLResolveInfo) -> CounterSnapshot:
    return source.counter


def _viewer(info: GraphQLResolveInfo) -> Any:
    context: Context = info.context
    return context.viewer


def increment(
    _root: None,
    info: GraphQLResolveInfo,
    name: str,
    amount: int | None = 1,
    clientMutationId: str | None = None,
) -> CounterChanged:
    # An explicit `amount: null` means the same as leaving it out.
    amount = 1 if amount is None else amount
    return Counter.increment(name, amount, actor=_viewer(info), key=clientMutationId)


def decrement(
    _root: None,
    info: GraphQLResolveInfo,
    name: str,
    amount: int | None = 1,
    clientMutationId: str | None = None,
) -> CounterChanged:
    amount = 1 if amount is None else amount
    return Counter.decrement(name, amount, actor=_viewer(info), key=clientMutationId)


def set_value(
    _root: None,
    info: GraphQLResolveInfo,
    name: str,
    value: int,
    clientMutationId: str | None = None,
) -> CounterChanged:
    return Counter.set_value(name, value, actor=_viewer(info), key=clientMutationId)


def reset(
    _root: None, info: GraphQLResolveInfo, name: str, clientMutationId: str | None = None
) -> CounterChanged:
    return Counter.reset(name, actor=_viewer(info), key=clientMutationId)
