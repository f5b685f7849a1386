"""Cost: about how many values an operation's result could hold.

Depth and field counts (app.api.limits) do not see multiplication: twelve
fields nested through list fields (library → stories → tags → stories …)
ask for 20 * 20 * 20 … values, and a few aliased `__schema` fields copy
the whole schema each time. So before execution every operation is costed
as the number of values its result could hold, and refused past `MAX_COST`:

- a field is one value; an object's fields count once per object;
- a list multiplies what is under it by its size: a connection's `edges`
  by the page asked for (`first:` as written, the argument's default when
  omitted, the largest page, `MAX_PAGE`, when it comes from a variable),
  any other list by its size in this schema for introspection (how many
  types, fields per type, … there are) or else by `UNPAGED_LIST`;
- every alias counts, fragments count each time they are spread, and
  introspection fields count like any other.

Checked as a validation rule, so a document is costed once and the verdict
is cached with it (app.api.document_cache).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)
from graphql.type import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef

from app.api.limits import MAX_COST
from app.api.pagination import MAX_PAGE

#: The assumed size of a list that has no page size and is not part of
#: introspection, such as a story's tags.
UNPAGED_LIST = 10


@lru_cache(maxsize=8)
def list_sizes(schema: GraphQLSchema) -> Mapping[tuple[str, str], float]:
    """The size of each introspection list in this schema, on average per
    parent: `types { fields { args } }` then costs what it really returns
    (and `__type(name:) { fields }`, one type's worth, no more than that)."""
    types = list(schema.type_map.values())
    with_fields = [t for t in types if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)]
    fields = [field for t in with_fields for field in t.fields.values()]
    directives = list(schema.directives)

    def per(total: int, parents: int) -> float:
        return total / max(1, parents)

    return {
        ("__Schema", "types"): len(types),
        ("__Schema", "directives"): len(directives),
        ("__Type", "fields"): per(len(fields), len(types)),
        ("__Type", "interfaces"): per(sum(len(t.interfaces) for t in with_fields), len(types)),
        ("__Type", "possibleTypes"): per(
            sum(len(t.types) for t in types if isinstance(t, GraphQLUnionType))
            + sum(
                len(schema.get_implementations(t).objects)
                for t in types
                if isinstance(t, GraphQLInterfaceType)
            ),
            len(types),
        ),
        ("__Type", "enumValues"): per(
            sum(len(getattr(t, "values", None) or ()) for t in types), len(types)
        ),
        ("__Type", "inputFields"): per(
            sum(len(getattr(t, "fields", None) or ()) for t in types if t not in with_fields),
            len(types),
        ),
        ("__Field", "args"): per(sum(len(field.args) for field in fields), len(fields)),
        ("__Directive", "args"): per(sum(len(d.args) for d in directives), len(directives)),
        ("__Directive", "locations"): per(
            sum(len(d.locations) for d in directives), len(directives)
        ),
    }


class _Cost:
    """The cost of one operation's selections, fragments expanded."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragment: Callable[[str], FragmentDefinitionNode | None],
    ) -> None:
        self.schema = schema
        #: The document's fragment by name (the validation context's, built once).
        self.fragment_named = fragment
        self.sizes = list_sizes(schema)
        self.cache: dict[tuple[str, int | None], float] = {}

    def selections(
        self,
        node: SelectionSetNode,
        parent: GraphQLNamedType,
        page: int | None,
        visiting: frozenset[str],
    ) -> float:
        """Values under one object; `page` sizes the `edges` of a connection."""
        total = 0.0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page, visiting)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, inner or parent, page, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, page, visiting)
        return total

    def fragment(self, name: str, page: int | None, visiting: frozenset[str]) -> float:
        definition = self.fragment_named(name)
        if name in visiting or definition is None:  # reported by the standard rules
            return 0
        key = (name, page)
        if key not in self.cache:
            condition = self.schema.get_type(definition.type_condition.name.value)
            if condition is None:
                return 0
            self.cache[key] = self.selections(
                definition.selection_set, condition, page, visiting | {name}
            )
        return self.cache[key]

    def field(
        self, node: FieldNode, parent: GraphQLNamedType, page: int | None, visiting: frozenset[str]
    ) -> float:
        definition = self.definition(parent, node.name.value)
        if definition is None:  # reported by FieldsOnCorrectTypeRule
            return 1
        count = 1.0
        output: GraphQLOutputType = definition.type
        while isinstance(output, GraphQLNonNull | GraphQLList):
            if isinstance(output, GraphQLList):
                size = self.sizes.get((parent.name, node.name.value))
                count *= size if size is not None else page if page is not None else UNPAGED_LIST
            output = output.of_type
        if node.selection_set is None:
            return count
        inner = self.selections(
            node.selection_set, get_named_type(output), self.page(node, definition), visiting
        )
        return count * (1 + inner)

    def definition(self, parent: GraphQLNamedType, name: str) -> GraphQLField | None:
        if name == "__typename":
            return TypeNameMetaFieldDef
        if parent is self.schema.query_type:
            if name == "__schema":
                return SchemaMetaFieldDef
            if name == "__type":
                return TypeMetaFieldDef
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return parent.fields.get(name)
        return None

    @staticmethod
    def page(node: FieldNode, definition: GraphQLField) -> int | None:
        """The page a connection field asks for, or None if it takes none."""
        if "first" not in definition.args:
            return None
        for argument in node.arguments or ():
            if argument.name.value == "first":
                if isinstance(argument.value, IntValueNode):
                    return min(max(int(argument.value.value), 0), MAX_PAGE)
                return MAX_PAGE  # a variable: any page up to the largest
        default = definition.args["first"].default_value
        return default if isinstance(default, int) else MAX_PAGE


class QueryCostRule(ValidationRule):
    """Refuses operations whose result could hold more than `MAX_COST` values."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.cost = _Cost(context.schema, context.get_fragment)

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
        root = self.context.schema.get_root_type(node.operation)
        if root is None:  # reported by the standard rules
            return
        cost = self.cost.selections(node.selection_set, root, None, frozenset())
        if cost > MAX_COST:
            about = f"about {cost:,.0f}" if cost < 1e12 else "more than a trillion"
            self.report_error(
                GraphQLError(
                    f"This query could return {about} values; the limit is "
                    f"{MAX_COST:,}. Ask for fewer items (first:) or fewer fields.",
                    node,
                )
            )
