"""One execution path for every transport: HTTP now, WebSocket alike.

`Executor.prepare` turns query text into a parsed, validated and costed
document (cached by text, so a hot query is parsed and validated once;
app.api.document_cache) and picks the operation's compiled plan, kept with
the document (app.api.plan); `Executor.run` coerces variables and executes
the plan within a time budget (app.api.budget). Errors that
stop a request before execution (syntax, validation, unknown operation,
variables) come back as a `RequestFailure`, which the transports answer
without a `data` entry, as the GraphQL over HTTP spec asks.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
    validate,
)

from app import metrics
from app.api.budget import MIDDLEWARE, Budget, OverBudget
from app.api.cost import QueryCostRule
from app.api.document_cache import DocumentCache
from app.api.errors import (
    BAD_USER_INPUT,
    GRAPHQL_PARSE_FAILED,
    GRAPHQL_VALIDATION_FAILED,
    INTERNAL_SERVER_ERROR,
    format_error,
    request_error,
)
from app.api.limits import (
    DOCUMENT_CACHE_BYTES,
    EXECUTION_BUDGET,
    MAX_TOKENS,
    PERSISTED_QUERIES,
    PERSISTED_QUERY_BYTES,
    QueryLimitsRule,
    variables_problem,
)
from app.api.persisted import PersistedQueries, PersistedQueryError, requested_hash
from app.api.plan import CompiledDocument, Plan
from app.api.resolvers.base import Context
from app.db import in_database_thread, in_write_batch, settled
from app.models.errors import Unavailable

#: Our limits run first, alone: they are linear in the document, while
#: some standard rules (fields that must merge) compare selections in pairs.
LIMIT_RULES = (QueryLimitsRule, QueryCostRule)


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    #: None when the request names a persisted query by its hash alone.
    query: str | None
    variables: Mapping[str, Any] | None = None
    operation_name: str | None = None
    extensions: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    document: DocumentNode
    operation: OperationDefinitionNode
    plan: Plan

    @property
    def kind(self) -> OperationType:
        return self.operation.operation


@dataclass(frozen=True, slots=True)
class RequestFailure:
    """The request could not be executed at all; `errors` are formatted."""

    errors: list[dict[str, Any]]

    def payload(self) -> dict[str, Any]:
        return {"errors": self.errors}


def _failure(errors: list[GraphQLError], code: str) -> RequestFailure:
    return RequestFailure([format_error(error, code) for error in errors])


class Executor:
    def __init__(
        self,
        schema: GraphQLSchema,
        cache_size: int = 512,
        cache_bytes: int = DOCUMENT_CACHE_BYTES,
        budget: float = EXECUTION_BUDGET,
    ) -> None:
        if schema.get_directive("defer") or schema.get_directive("stream"):
            # As graphql-core's `execute` refuses: plans run its plain
            # executor, which would ignore them.
            raise ValueError("the schema has @defer or @stream; plans cannot run them")
        self.schema = schema
        self.documents = DocumentCache(self._compile, cache_size, cache_bytes)
        #: Automatic persisted queries: hash -> query text (app.api.persisted).
        self.persisted = PersistedQueries(PERSISTED_QUERIES, PERSISTED_QUERY_BYTES)
        #: Seconds one operation may hold the loop executing (app.api.budget).
        self.budget = budget

    def _compile(self, query: str) -> CompiledDocument | RequestFailure:
        try:
            document = parse(query, allow_empty_selection_sets=False, max_tokens=MAX_TOKENS)
        except GraphQLError as error:
            return _failure([error], GRAPHQL_PARSE_FAILED)
        errors = validate(
            self.schema, document, LIMIT_RULES, max_errors=20, allow_empty_selection_sets=False
        ) or validate(
            self.schema, document, specified_rules, max_errors=20, allow_empty_selection_sets=False
        )
        if errors:
            return _failure(errors, GRAPHQL_VALIDATION_FAILED)
        return CompiledDocument(document)

    def prepare(
        self,
        query: str | None,
        operation_name: str | None,
        variables: Mapping[str, Any] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> Prepared | RequestFailure:
        """The validated operation to run, or why it cannot run. The query
        may be named by `extensions.persistedQuery` instead of sent."""
        problem = variables_problem(variables or {})
        if problem is not None:
            return _failure([request_error(problem, BAD_USER_INPUT)], BAD_USER_INPUT)
        try:
            sha = requested_hash(extensions)
            if sha is not None:
                query = self.persisted.query_for(sha, query)
        except PersistedQueryError as error:
            return _failure([request_error(str(error), error.code)], error.code)
        if query is None:
            message = "The request has no `query`: send the GraphQL document as `query`."
            return _failure([request_error(message, BAD_USER_INPUT)], BAD_USER_INPUT)
        compiled = self.documents.get(query)
        if isinstance(compiled, RequestFailure):
            return compiled
        if sha is not None:
            self.persisted.remember(sha, query)
        plan = compiled.plan(self.schema, operation_name)
        if plan is None:
            message = (
                f"Unknown operation named {operation_name!r}."
                if operation_name
                else "Must provide operation name if query contains multiple operations."
            )
            return _failure([request_error(message, BAD_USER_INPUT)], BAD_USER_INPUT)
        return Prepared(compiled.document, plan.operation, plan)

    async def run(
        self,
        prepared: Prepared,
        variables: Mapping[str, Any] | None,
        context: Context,
        root_value: object = None,
    ) -> dict[str, Any] | RequestFailure:
        """Executes a prepared query or mutation; returns the response body.

        Its resolvers' database work runs off the loop where that matters
        (app.db.in_database_thread); async resolvers finish on the loop."""
        budget = Budget(self.budget)
        context = replace(context, budget=budget)

        def execute_in_budget() -> Any:
            budget.start()
            return prepared.plan.execute(self.schema, variables, context, root_value, MIDDLEWARE)

        try:
            if prepared.kind is OperationType.MUTATION:
                result = await in_write_batch(execute_in_budget)
            else:
                result = await in_database_thread(execute_in_budget)
            if inspect.isawaitable(result):
                result = await result
                # What its async resolvers changed (a sign-up) is durable first.
                await settled()
        except Unavailable as refusal:
            # The batch could not be begun or committed: nothing was saved.
            error = GraphQLError(str(refusal), original_error=refusal)
            metrics.graphql_operations.labels(prepared.kind.value, "error").inc()
            return {"errors": [format_error(error, INTERNAL_SERVER_ERROR)], "data": None}
        if budget.exceeded:
            result = _one_budget_error(result)
        shaped = shape_result(result)
        outcome = "error" if isinstance(shaped, RequestFailure) or "errors" in shaped else "ok"
        metrics.graphql_operations.labels(prepared.kind.value, outcome).inc()
        return shaped


def _one_budget_error(result: ExecutionResult) -> ExecutionResult:
    """Every field after the budget ran out failed alike: one error says it."""
    errors, told = [], False
    for error in result.errors or []:
        if isinstance(error.original_error, OverBudget):
            if told:
                continue
            told = True
        errors.append(error)
    return ExecutionResult(result.data, errors)


def shape_result(result: ExecutionResult) -> dict[str, Any] | RequestFailure:
    """The response body for `result`, or a RequestFailure when execution
    never started (variable coercion: data is absent and no error has a
    path)."""
    errors = result.errors or []
    if result.data is None and errors and all(e.path is None for e in errors):
        return _failure(errors, BAD_USER_INPUT)
    body: dict[str, Any] = {}
    if errors:
        body["errors"] = [format_error(error, INTERNAL_SERVER_ERROR) for error in errors]
    body["data"] = result.data
    return body
