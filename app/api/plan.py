"""Compiled plans: what executing a cached document repeats, done once.

graphql-core's `execute` starts every request by building an executor
from scratch: it looks the operation up in the document, gathers the
fragments (and their variable signatures), wraps the result in an
incremental executor, and collects every object's sub-fields again. For a
document already parsed and validated (app.api.document_cache) only the
variables and the viewer change, so a `Plan` keeps, per document and
operation, the chosen operation, its variables' types, its fragments,
and, when no field's collection can depend on variables, the collected
root and sub-fields, shared by every execution of the plan. Each request then coerces its
variables and builds one plain graphql-core `Executor` from those parts.

Results are graphql-core's own: variables are coerced by its
`coerce_input_value` against their types, worked out once, and a request
whose variables are not plainly right (missing, defaulted, refused) is
coerced by its `get_variable_values` instead, for the same messages and
the same limit of 50 errors; the operation runs through its
`Executor.execute_operation`, with its error handling, paths and
locations. The plain executor is what `execute` uses
when the schema has no `@defer`/`@stream` (ours has neither; `execute`
refuses such a schema), without the incremental machinery.

Plans live in the document cache's entry (`CompiledDocument`), so they
are bounded by it and go with it; a document holds one per operation it
defines, and names it does not define are never kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    MiddlewareManager,
    OperationDefinitionNode,
    OperationType,
    Token,
    TokenKind,
    default_field_resolver,
    default_type_resolver,
    get_operation_ast,
    get_variable_values,
)
from graphql import Executor as GraphQLExecutor
from graphql.execution.collect_fields import DeferUsage, FragmentDetails, GroupedFieldSet
from graphql.execution.get_variable_signature import (
    GraphQLVariableSignature,
    get_variable_signature,
)
from graphql.execution.values import (
    VariableValues,
    VariableValueSource,
    input_is_nested_too_deeply,
)
from graphql.pyutils import AwaitableOrValue, Undefined
from graphql.utilities.coerce_input_value import coerce_input_value

from app.api.resolvers.base import resolve_field

#: As graphql-core's `execute` (its default `max_coercion_errors`).
MAX_COERCION_ERRORS = 50
#: Documents of more tokens than this do not keep their collected fields
#: between executions (each collects afresh, as graphql-core does): what a
#: plan keeps then stays small beside the tokens the cache counts, and hot
#: documents are small.
MAX_SHARED_TOKENS = 2_000
#: Entries in one plan's shared memo past which it starts afresh. A small
#: document's field groups are few, so this only guards against a
#: graphql-core that stopped reusing them.
MAX_MEMO = 1_000


def collects_alike(document: DocumentNode) -> bool:
    """Whether collecting this document's fields cannot depend on
    variables and is worth keeping: no `@` in it (`@skip`, `@include`), no
    fragment arguments (an experimental syntax our parser refuses), and
    at most MAX_SHARED_TOKENS tokens (False when its tokens were not kept)."""
    if document.loc is None:
        return False
    if any(
        isinstance(definition, FragmentDefinitionNode) and definition.variable_definitions
        for definition in document.definitions
    ):
        return False
    token: Token | None = document.loc.start_token
    count = 0
    while token is not None:
        count += 1
        if token.kind is TokenKind.AT or count > MAX_SHARED_TOKENS:
            return False
        token = token.next
    return True


class Plan:
    """One operation of one cached document, ready to execute again."""

    __slots__ = (
        "fragment_definitions",
        "fragment_errors",
        "fragments",
        "operation",
        "root_fields",
        "signatures",
        "sub_fields",
    )

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        static: bool,
    ) -> None:
        self.operation = operation
        #: The operation's variables, typed once; None when one is not of
        #: an input type (validation refuses that; graphql-core says so).
        self.signatures: tuple[GraphQLVariableSignature, ...] | None = _variable_signatures(
            schema, operation
        )
        self.fragment_definitions: dict[str, FragmentDefinitionNode] = {}
        self.fragments: dict[str, FragmentDetails] = {}
        #: As `Executor.build` finds them: a fragment variable of a type
        #: that is not an input type (only with fragment arguments, an
        #: experimental syntax our parser does not accept).
        self.fragment_errors: list[GraphQLError] = []
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                name = definition.name.value
                self.fragment_definitions[name] = definition
                self.fragments[name] = FragmentDetails(
                    definition, self._signatures(schema, definition)
                )
        #: graphql-core's memo of collected sub-fields, by (type, identity
        #: of the field group); shared by every execution when nothing in it
        #: depends on variables, else None (each execution collects afresh).
        self.sub_fields: dict[Any, Any] | None = {} if static else None
        #: The operation's collected root fields, once collected (static
        #: plans only): the field groups the memo above is keyed by.
        self.root_fields: GroupedFieldSet | None = None

    def _coerce(self, inputs: dict[str, Any]) -> VariableValues | None:
        """The variables coerced with the signatures typed once, for the
        plain case: every variable given a value that coerces. Anything
        else (a default to apply, a value to refuse) is None, and left to
        graphql-core's `get_variable_values`, which this follows step by
        step for the plain case."""
        signatures = self.signatures
        if signatures is None:
            return None
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        try:
            for signature in signatures:
                value = inputs.get(signature.name, Undefined)
                if value is Undefined or input_is_nested_too_deeply(value, signature.type):
                    return None
                coerced_value = coerce_input_value(value, signature.type)
                if coerced_value is Undefined:
                    return None
                sources[signature.name] = VariableValueSource(signature, value)
                coerced[signature.name] = coerced_value
        except RecursionError:
            return None
        return VariableValues(sources, coerced)

    def _signatures(
        self, schema: GraphQLSchema, fragment: FragmentDefinitionNode
    ) -> dict[str, GraphQLVariableSignature] | None:
        if not fragment.variable_definitions:
            return None
        signatures = {}
        for definition in fragment.variable_definitions:
            signature = get_variable_signature(schema, definition)
            if isinstance(signature, GraphQLError):
                self.fragment_errors.append(signature)
                continue
            signatures[signature.name] = signature
        return signatures

    @property
    def kind(self) -> OperationType:
        return self.operation.operation

    def executor(
        self,
        schema: GraphQLSchema,
        variables: Mapping[str, Any] | None,
        context: object,
        root_value: object,
        middleware: MiddlewareManager | None,
    ) -> GraphQLExecutor | list[GraphQLError]:
        """graphql-core's executor for one execution, or the variables'
        coercion errors (as `Executor.build` would return them)."""
        if self.fragment_errors:
            return self.fragment_errors
        inputs = dict(variables or {})
        variable_values: VariableValues | list[GraphQLError] | None = self._coerce(inputs)
        if variable_values is None:  # not the plain case: graphql-core's way, errors and all
            variable_values = get_variable_values(
                schema,
                self.operation.variable_definitions or (),
                inputs,
                max_errors=MAX_COERCION_ERRORS,
            )
        if isinstance(variable_values, list):
            return variable_values
        executor = _PlannedExecutor(
            schema,
            self.fragment_definitions,
            self.fragments,
            root_value,
            context,
            self.operation,
            variable_values,
            resolve_field,
            default_type_resolver,
            default_field_resolver,
            middleware_manager=middleware,
        )
        if self.sub_fields is not None:
            if len(self.sub_fields) > MAX_MEMO:  # (not expected: a guard)
                self.sub_fields.clear()
            executor.plan = self
            executor._relevant_sub_fields = self.sub_fields
        return executor

    def execute(
        self,
        schema: GraphQLSchema,
        variables: Mapping[str, Any] | None,
        context: object,
        root_value: object = None,
        middleware: MiddlewareManager | None = None,
    ) -> AwaitableOrValue[ExecutionResult]:
        """What `graphql.execute` returns for this operation."""
        executor = self.executor(schema, variables, context, root_value, middleware)
        if isinstance(executor, list):
            return ExecutionResult(None, errors=executor)
        return executor.execute_operation()  # type: ignore[return-value]


def _variable_signatures(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> tuple[GraphQLVariableSignature, ...] | None:
    signatures = []
    for definition in operation.variable_definitions or ():
        signature = get_variable_signature(schema, definition)
        if isinstance(signature, GraphQLError):
            return None
        signatures.append(signature)
    return tuple(signatures)


class _PlannedExecutor(GraphQLExecutor):
    """graphql-core's plain executor, whose root fields are the plan's
    first collection when the plan is static: the same field groups every
    time, so that the shared memo of sub-fields finds them again."""

    plan: Plan | None = None

    def build_per_event_executor(self, payload: Any) -> GraphQLExecutor:
        """graphql-core's copy for one subscription event shares the memo
        of collected sub-fields with this executor. Each event collects
        its root fields afresh, so unless the plan keeps them (static
        plans) that memo would gain entries with every event for the
        subscription's life: such copies get a memo of their own."""
        executor = super().build_per_event_executor(payload)
        if self.plan is None:
            executor._relevant_sub_fields = {}
        return executor

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        new_defer_usages: Sequence[DeferUsage],
    ) -> AwaitableOrValue[dict[str, Any]]:
        plan = self.plan
        if plan is not None:
            if plan.root_fields is None:
                plan.root_fields = grouped_field_set
            grouped_field_set = plan.root_fields
        return super().execute_collected_root_fields(
            root_type, root_value, grouped_field_set, serially, new_defer_usages
        )


class CompiledDocument:
    """A parsed and validated document, and the plans of its operations."""

    __slots__ = ("document", "plans", "static")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        #: Whether its plans keep their collected fields (`collects_alike`).
        self.static = collects_alike(document)
        #: By operation name as requested (None: the only operation).
        self.plans: dict[str | None, Plan] = {}

    def plan(self, schema: GraphQLSchema, operation_name: str | None) -> Plan | None:
        """The plan for `operation_name`, or None when the document has no
        such operation (or several and no name was given)."""
        plan = self.plans.get(operation_name)
        if plan is None:
            operation = get_operation_ast(self.document, operation_name)
            if operation is None:
                return None  # unknown names are not kept: they are unbounded
            plan = Plan(schema, self.document, operation, self.static)
            self.plans[operation_name] = plan
        return plan
