"""The DateTime scalar: ISO-8601 UTC with milliseconds.

graphql-core 3.3 ignores `serialize`/`parse_value` on a scalar built from
SDL; the `coerce_*` hooks are what it calls.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, StringValueNode, ValueNode

from app.clock import isoformat_ms


def _output(value: Any) -> str:
    if isinstance(value, datetime):
        return isoformat_ms(value)
    raise GraphQLError(f"DateTime cannot represent {value!r}.")


def _input(value: Any) -> datetime:
    if not isinstance(value, str):
        raise GraphQLError(f"DateTime must be an ISO-8601 string; got {value!r}.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLError(f"DateTime must be an ISO-8601 string; got {value!r}.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _literal(node: ValueNode, _variables: Any = None) -> datetime:
    if not isinstance(node, StringValueNode):
        raise GraphQLError("DateTime must be an ISO-8601 string.")
    return _input(node.value)


def install_datetime(scalar: GraphQLScalarType) -> None:
    scalar.coerce_output_value = _output
    scalar.coerce_input_value = _input
    scalar.coerce_input_literal = _literal
