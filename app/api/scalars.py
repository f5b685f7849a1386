"""The DateTime scalar: ISO-8601 UTC with milliseconds.

graphql-core 3.3 ignores `serialize`/`parse_value` on a scalar built from
SDL; the `coerce_*` hooks are what it calls.

A value that is not a DateTime is the client's mistake wherever it is
written (a variable or the document), so its error says BAD_USER_INPUT
and shows the expected form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, StringValueNode, ValueNode, print_ast

from app.api.errors import BAD_USER_INPUT
from app.clock import isoformat_ms

EXAMPLE = '"2025-01-15T12:00:01.000Z"'


def _refused(shown: str) -> GraphQLError:
    """`shown`: the refused value as the client wrote it."""
    return GraphQLError(
        f"DateTime must be an ISO-8601 string such as {EXAMPLE}; got {shown}.",
        extensions={"code": BAD_USER_INPUT},
    )


def _output(value: Any) -> str:
    if isinstance(value, datetime):
        return isoformat_ms(value)
    raise GraphQLError(f"DateTime cannot represent {value!r}.")


def _input(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _refused(repr(value))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _refused(repr(value)) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _literal(node: ValueNode, _variables: Any = None) -> datetime:
    if not isinstance(node, StringValueNode):
        raise _refused(print_ast(node))
    return _input(node.value)


def install_datetime(scalar: GraphQLScalarType) -> None:
    scalar.coerce_output_value = _output
    scalar.coerce_input_value = _input
    scalar.coerce_input_literal = _literal
