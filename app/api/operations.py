"""One GraphQL operation as an async iterator of results, for sockets.

A query or mutation yields one result; a subscription yields one result
per event, executed by graphql-core's subscription support so that each
client gets exactly the fields it selected. An operation that cannot
run (syntax, validation, variables, a refused subscription) raises
`OperationError` with the formatted errors, which the protocol sends as
an `error` message.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import Any

from graphql import ExecutionResult, OperationType, subscribe

from app.api.execution import Executor, RequestFailure, shape_result
from app.api.resolvers.base import Context, resolve_field
from app.protocols.graphql_ws import OperationError, SubscribePayload


async def run_operation(
    executor: Executor, payload: SubscribePayload, context: Context
) -> AsyncIterator[dict[str, Any]]:
    prepared = executor.prepare(payload["query"], payload.get("operationName"))
    if isinstance(prepared, RequestFailure):
        raise OperationError(prepared.errors)
    variables = payload.get("variables")
    if prepared.kind is not OperationType.SUBSCRIPTION:
        outcome = await executor.run(prepared, variables, context)
        if isinstance(outcome, RequestFailure):
            raise OperationError(outcome.errors)
        yield outcome
        return

    source = subscribe(
        executor.schema,
        prepared.document,
        context_value=context,
        variable_values=dict(variables or {}),
        operation_name=payload.get("operationName"),
        field_resolver=resolve_field,
    )
    if inspect.isawaitable(source):
        source = await source
    if isinstance(source, ExecutionResult):
        # Refused before any event (bad variables, or the subscribe resolver
        # said no): the client gets an `error` message, not a stream.
        shaped = shape_result(source)
        errors = shaped.errors if isinstance(shaped, RequestFailure) else shaped["errors"]
        raise OperationError(errors)
    try:
        async for result in source:
            shaped = shape_result(result)
            if isinstance(shaped, RequestFailure):
                raise OperationError(shaped.errors)
            yield shaped
    finally:
        await source.aclose()  # type: ignore[attr-defined]
