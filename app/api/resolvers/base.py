"""The default field resolver and the request context."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphql import GraphQLResolveInfo

from app.models.user import User


@dataclass(slots=True)
class Context:
    """What every resolver may know about the request it serves."""

    viewer: User | None = None
    #: Per-request scratch space (for example, loaded rows to reuse).
    cache: dict[object, object] = field(default_factory=dict)


@lru_cache(maxsize=1024)
def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def resolve_field(source: Any, info: GraphQLResolveInfo, **_args: Any) -> Any:
    """Reads `fieldName` from a dict, or `field_name` from an object.

    A callable stored in a dict is called (lazily computed values, such as
    a connection's `totalCount`); attributes are never called, so a
    model's methods cannot be reached from a query.
    """
    name = info.field_name
    if isinstance(source, dict):
        value = source.get(name)
        return value() if callable(value) else value
    return getattr(source, snake_case(name), None)
