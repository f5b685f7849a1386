"""Counters: reading, paging, history and the four changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
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
from app.models.counter import Counter, CounterAsOf, CounterOperation

CounterLike = Counter | CounterSnapshot | CounterAsOf


def counter(
    _root: None, _info: GraphQLResolveInfo, name: str, at: datetime | None = None
) -> Counter | CounterAsOf:
    if at is None:
        return Counter.lookup(name)
    return Counter.as_of(name, at)


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
    source: CounterLike,
    _info: GraphQLResolveInfo,
    first: int,
    after: str | None = None,
    since: datetime | None = None,
) -> dict[str, Any]:
    """Newest first; `since` (an argument) and a counter read `at` a moment
    (its `as_of`) bound the operations by time. The cursor is the row id
    either way, so paging a window is paging the whole log, filtered."""
    check_first(first)
    after_id = None
    if after is not None:
        (raw,) = decode_cursor(after, 1)
        after_id = cursor_row_key(after, raw)
    until = source.as_of if isinstance(source, CounterAsOf) else None
    rows = CounterOperation.page(source.id, first + 1, after_id, since, until)
    total: int | Callable[[], int] = source.operation_count
    if since is not None or until is not None:
        # Counted only when asked for: a range of the (counter_id, timestamp, id) index.
        total = partial(CounterOperation.count_between, source.id, since, until)
    return connection(rows, first, after, lambda op: encode_cursor(op.id), total)


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
