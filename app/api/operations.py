"""One GraphQL operation over a socket, as an async iterator of results.

A query or mutation yields one result. A subscription is checked by
graphql-core (arguments, and the subscribe resolver, which may refuse),
then joins its group in `LiveQueries`; from then on its events are pushed
to the member by the group, and this iterator yields nothing more until
the operation is completed or the socket closes. An operation that cannot
run raises `OperationError` with the formatted errors, which the protocol
sends as an `error` message.

A subscription may name, in the subscribe payload's `extensions.since`,
the stream position it last saw (`{"offset": …, "epoch": …}`) to be sent
what it missed first, or "now" to be told the current position
(app.api.live.catch_up). Streams without history ignore it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from typing import Any

from graphql import ExecutionResult, OperationType, create_source_event_stream

from app import metrics
from app.api.errors import BAD_USER_INPUT, format_error
from app.api.execution import Executor, RequestFailure, shape_result
from app.api.live import NOW, LiveQueries, Member, TopicSource, catch_up
from app.api.payloads import OperationError, SubscribePayload
from app.api.resolvers.base import Context
from app.events import has_history
from app.realtime.history import History, Position, PositionError


async def run_operation(
    executor: Executor,
    live: LiveQueries,
    payload: SubscribePayload,
    context: Context,
    member: Member,
    history: History,
) -> AsyncIterator[dict[str, Any]]:
    since = _since(payload)
    prepared = executor.prepare(
        payload.get("query"),
        payload.get("operationName"),
        payload.get("variables"),
        payload.get("extensions"),
    )
    if isinstance(prepared, RequestFailure):
        raise OperationError(prepared.errors)
    variables = dict(payload.get("variables") or {})
    if prepared.kind is not OperationType.SUBSCRIPTION:
        outcome = await executor.run(prepared, variables, context)
        if isinstance(outcome, RequestFailure):
            raise OperationError(outcome.errors)
        yield outcome
        return

    # graphql-core's executor, from the document's compiled plan (app.api.plan).
    built = prepared.plan.executor(executor.schema, variables, context, None, None)
    if isinstance(built, list):  # the variables do not fit the operation
        raise OperationError([format_error(error, BAD_USER_INPUT) for error in built])
    source = create_source_event_stream(built)
    if inspect.isawaitable(source):
        source = await source
    if isinstance(source, ExecutionResult):
        # Refused before any event (bad variables, or the subscribe resolver
        # said no): the client gets an `error` message, not a stream.
        shaped = shape_result(source)
        errors = shaped.errors if isinstance(shaped, RequestFailure) else shaped["errors"]
        metrics.graphql_operations.labels("subscription", "refused").inc()
        raise OperationError(errors)
    metrics.graphql_operations.labels("subscription", "ok").inc()
    assert isinstance(source, TopicSource), "subscribe resolvers return a TopicSource"
    resuming = since is not None and has_history(source.topic)
    if resuming:
        member.hold()  # before joining: no live event falls before the history read
    group = live.join(source.topic, prepared, variables, context, built, member)
    counts, presence = source.counts, context.presence
    # A signed-in watcher is named among the counter's members.
    watcher = context.viewer.username if context.viewer is not None else None
    entered = False
    try:
        if counts is not None and presence is not None:
            presence.enter(counts, watcher)
            entered = True
        if source.initial is not None and (first := source.initial()) is not None:
            group.deliver_to(member, first)
        # This frame stays suspended for the subscription's life: keep nothing
        # alive that the group already has (memory per idle subscriber).
        del built, source, prepared, variables, context, payload, executor
        if resuming:
            assert since is not None
            await catch_up(group, member, history, since)
        del history, since
        await asyncio.get_running_loop().create_future()  # until cancelled
    finally:
        group.leave(member)
        if entered:
            presence.leave(counts, watcher)  # type: ignore[union-attr,arg-type]


def _since(payload: SubscribePayload) -> Position | str | None:
    """The subscribe payload's `extensions.since`, checked."""
    since = (payload.get("extensions") or {}).get("since")
    if since is None or since == NOW:
        return since
    try:
        return Position.parse(since)
    except PositionError as error:
        message = f'extensions.since must be a position or "{NOW}": {error}'
        raise OperationError(
            [{"message": message, "extensions": {"code": BAD_USER_INPUT}}]
        ) from None
