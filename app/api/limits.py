"""Limits on what one GraphQL document may ask of the server.

A public GraphQL endpoint executes whatever it is sent, so without limits
one request could ask for a tree 40 levels deep (Tag.stories → Story.tags
→ …) or 5,000 aliased copies of an expensive field. Each limit below is
checked before execution, and its error names the limit:

- tokens: graphql-core's parser stops past `MAX_TOKENS`;
- depth: nested selections, fragments expanded, at most `MAX_DEPTH`
  (introspection fields, `__schema` and the like, are not counted: they
  read the schema, not data, and standard tools send a 15-level query);
- fields: every field selection counted, fragments expanded each time they
  are spread, at most `MAX_FIELDS` per operation;
- strings: a string argument or variable of more than `MAX_STRING`
  characters is refused (the domain rules are far tighter; this only
  keeps a megabyte of text from being processed at all).

The request body itself is capped in the HTTP handler (MAX_BODY_BYTES).
"""

from __future__ import annotations

from collections.abc import Mapping
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

MAX_TOKENS = 20_000
MAX_DEPTH = 12
MAX_FIELDS = 1_000
MAX_STRING = 100_000
MAX_BODY_BYTES = 1024 * 1024


class _Measure:
    """Depth and field count of selections, with fragments expanded."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
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
                if selection.name.value.startswith("__"):
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
            definition = self.fragments.get(name)
            if definition is None:  # unknown: KnownFragmentNamesRule reports it
                return 0, 0
            self.cache[name] = self.selections(definition.selection_set, visiting | {name})
        return self.cache[name]


class QueryLimitsRule(ASTValidationRule):
    """Refuses operations deeper or wider than the limits, and string
    literals longer than `MAX_STRING`."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        fragments = {
            definition.name.value: definition
            for definition in context.document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.measure = _Measure(fragments)

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


def long_string_in(value: Any) -> int | None:
    """The length of the first over-long string in variables, if any."""
    if isinstance(value, str):
        return len(value) if len(value) > MAX_STRING else None
    if isinstance(value, Mapping):
        value = value.values()
    elif not isinstance(value, list):
        return None
    for item in value:
        found = long_string_in(item)
        if found is not None:
            return found
    return None
