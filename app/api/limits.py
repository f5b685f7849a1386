"""Limits on what one GraphQL document may ask of the server.

A public GraphQL endpoint executes whatever it is sent, so without limits
one request could ask for a tree 40 levels deep (Tag.stories → Story.tags
→ …) or 5,000 aliased copies of an expensive field. Each limit below is
checked before execution, and its error names the limit:

- tokens: graphql-core's parser stops past `MAX_TOKENS`;
- depth: nested selections, fragments expanded, at most `MAX_DEPTH`
  (introspection fields, `__schema` and the like, are not counted: they
  read the schema, not data, and standard tools send a 15-level query);
- fields: every field selection counted (`__typename` too), fragments
  expanded each time they are spread, at most `MAX_FIELDS` per operation;
- repeats: one response name (a field or its alias) at most
  `MAX_SAME_NAME` times in one selection set, fragments merged in. The
  standard rule that checks such fields can be merged compares them in
  pairs: 1,000 copies of `x: counter(…)` held the loop for 5 s before
  any other limit was looked at;
- strings: a string argument or variable of more than `MAX_STRING`
  characters is refused (the domain rules are far tighter; this only
  keeps a megabyte of text from being processed at all), and so is one
  holding a NUL character, which no text of ours may contain and which
  PostgreSQL refuses to store or even compare (BAD_USER_INPUT);
- variables: nested more than `MAX_VARIABLE_DEPTH` lists or objects deep
  is refused (BAD_USER_INPUT) before anything walks them recursively: no
  argument of the schema nests deeper than a list of ids;
- cost: about how many values the result could hold, `MAX_COST` at most
  (app.api.cost);
- time: executing one operation may hold the loop `EXECUTION_BUDGET`
  seconds at most (app.api.budget).

The request body itself is capped in the HTTP handler (MAX_BODY_BYTES).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
)

from app.api.errors import BAD_USER_INPUT

MAX_TOKENS = 20_000
MAX_DEPTH = 12
MAX_FIELDS = 1_000
#: Selections of one response name in one selection set (see above).
MAX_SAME_NAME = 50
MAX_STRING = 100_000
MAX_VARIABLE_DEPTH = 20
#: About how many values one operation's result may hold (app.api.cost):
#: the explorer's introspection query is costed at about 8,000 of them, the
#: library page's query (100 stories with their tags, 100 tags) about 5,200.
MAX_COST = 20_000
#: Seconds one operation may hold the loop executing (app.api.budget).
EXECUTION_BUDGET = 1.0
MAX_BODY_BYTES = 1024 * 1024
#: Bytes of parsed documents kept for reuse (app.api.document_cache).
DOCUMENT_CACHE_BYTES = 32 * 1024 * 1024
#: Automatic persisted queries kept per process (app.api.persisted): the
#: query texts only, least recently used out.
PERSISTED_QUERIES = 2_000
PERSISTED_QUERY_BYTES = 8 * 1024 * 1024
NUL_MESSAGE = "Text may not contain a NUL character (\\u0000); remove it from the {where}."


class _Measure:
    """Depth and field count of selections, with fragments expanded."""

    def __init__(self, fragment: Callable[[str], FragmentDefinitionNode | None]) -> None:
        #: The document's fragment by name (the validation context's, built once).
        self.fragment_named = fragment
        self.cache: dict[str, tuple[int, int]] = {}

    def selections(
        self, node: SelectionSetNode | None, visiting: frozenset[str]
    ) -> tuple[int, int]:
        """(depth, fields) of a selection set."""
        if node is None:
            return 0, 0
        depth = fields = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__") and name != "__typename":
                    continue  # introspection: reads the schema, bounded by its size
                child_depth, child_fields = self.selections(selection.selection_set, visiting)
                depth = max(depth, 1 + child_depth)
                fields += 1 + child_fields
            elif isinstance(selection, InlineFragmentNode):
                child_depth, child_fields = self.selections(selection.selection_set, visiting)
                depth, fields = max(depth, child_depth), fields + child_fields
            elif isinstance(selection, FragmentSpreadNode):
                child_depth, child_fields = self.fragment(selection.name.value, visiting)
                depth, fields = max(depth, child_depth), fields + child_fields
        return depth, fields

    def fragment(self, name: str, visiting: frozenset[str]) -> tuple[int, int]:
        if name in visiting:  # a cycle: NoFragmentCyclesRule reports it
            return 0, 0
        if name not in self.cache:
            definition = self.fragment_named(name)
            if definition is None:  # unknown: KnownFragmentNamesRule reports it
                return 0, 0
            self.cache[name] = self.selections(definition.selection_set, visiting | {name})
        return self.cache[name]


class _ResponseNames:
    """How often each response name is selected in one selection set, with
    its inline fragments and spread fragments merged in (not the fields'
    own selections: those are selection sets of their own)."""

    def __init__(self, fragment: Callable[[str], FragmentDefinitionNode | None]) -> None:
        #: The document's fragment by name (the validation context's, built once).
        self.fragment_named = fragment
        self.cache: dict[str, Counter[str]] = {}

    def of(self, node: SelectionSetNode, visiting: frozenset[str]) -> Counter[str]:
        names: Counter[str] = Counter()
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                names[(selection.alias or selection.name).value] += 1
            elif isinstance(selection, InlineFragmentNode):
                names.update(self.of(selection.selection_set, visiting))
            elif isinstance(selection, FragmentSpreadNode):
                names.update(self.fragment(selection.name.value, visiting))
        return names

    def fragment(self, name: str, visiting: frozenset[str]) -> Counter[str]:
        if name in visiting:  # a cycle: NoFragmentCyclesRule reports it
            return Counter()
        if name not in self.cache:
            definition = self.fragment_named(name)
            if definition is None:  # unknown: KnownFragmentNamesRule reports it
                return Counter()
            self.cache[name] = self.of(definition.selection_set, visiting | {name})
        return self.cache[name]


class QueryLimitsRule(ASTValidationRule):
    """Refuses operations deeper or wider than the limits, and string
    literals longer than `MAX_STRING`."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.measure = _Measure(context.get_fragment)
        self.names = _ResponseNames(context.get_fragment)
        self.repeats_reported = False

    def enter_selection_set(self, node: SelectionSetNode, *_args: Any) -> None:
        if self.repeats_reported:
            return
        names = self.names.of(node, frozenset())
        if not names:
            return
        name, times = names.most_common(1)[0]
        if times > MAX_SAME_NAME:
            self.repeats_reported = True
            self.report_error(
                GraphQLError(
                    f"{name!r} is selected {times} times in one selection set (fragments "
                    f"merged in); the limit is {MAX_SAME_NAME}. Give each its own alias.",
                    node,
                )
            )

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
        depth, fields = self.measure.selections(node.selection_set, frozenset())
        name = f"Operation {node.name.value!r}" if node.name else "The operation"
        if depth > MAX_DEPTH:
            self.report_error(
                GraphQLError(
                    f"{name} is nested {depth} levels deep; the limit is {MAX_DEPTH}.", node
                )
            )
        if fields > MAX_FIELDS:
            self.report_error(
                GraphQLError(
                    f"{name} selects {fields} fields (fragments counted each time they are "
                    f"used); the limit is {MAX_FIELDS}.",
                    node,
                )
            )

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if len(node.value) > MAX_STRING:
            self.report_error(
                GraphQLError(
                    f"A string argument has {len(node.value)} characters; "
                    f"the limit is {MAX_STRING}.",
                    node,
                )
            )
        if "\x00" in node.value:
            message = NUL_MESSAGE.format(where="string argument")
            self.report_error(GraphQLError(message, node, extensions={"code": BAD_USER_INPUT}))


def variables_problem(variables: Mapping[str, Any]) -> str | None:
    """What is wrong with these variables, if anything: nesting past
    `MAX_VARIABLE_DEPTH`, a string past `MAX_STRING`, or a NUL character.

    Walked with a stack, not recursion: a value nested a thousand deep is
    a refusal here, not a RecursionError in whatever walks it next."""
    stack: list[tuple[Any, int]] = [(value, 1) for value in variables.values()]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                return f"A string variable has {len(value)} characters; the limit is {MAX_STRING}."
            if "\x00" in value:
                return NUL_MESSAGE.format(where="variables")
        elif isinstance(value, Mapping | list):
            if depth > MAX_VARIABLE_DEPTH:
                return (
                    f"A variable is nested more than {MAX_VARIABLE_DEPTH} lists or objects "
                    "deep; no argument here takes more than a list."
                )
            items = value.values() if isinstance(value, Mapping) else value
            stack.extend((item, depth + 1) for item in items)
    return None
