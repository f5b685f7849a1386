"""Cursor connections: bounds on `first`, opaque cursors, page shaping."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from app.ids import row_key
from app.models.errors import InvalidInput

MAX_PAGE = 100
T = TypeVar("T")


def check_first(first: int | None) -> int:
    if first is None:
        raise InvalidInput("`first` must be a number from 0 to 100.")
    if not 0 <= first <= MAX_PAGE:
        raise InvalidInput(f"`first` must be from 0 to {MAX_PAGE}; got {first}.")
    return first


def encode_cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode("|".join(map(str, parts)).encode()).decode()


def not_ours(cursor: str) -> InvalidInput:
    return InvalidInput(f"The cursor {cursor[:80]!r} is not one this server made.")


def decode_cursor(cursor: str, parts: int) -> list[str]:
    """The parts of a cursor made by `encode_cursor`, or BAD_USER_INPUT.

    A NUL character is never in a cursor of ours, and PostgreSQL would
    refuse it in a query."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    pieces = text.split("|")
    if len(pieces) != parts or not all(pieces) or "\x00" in text:
        raise not_ours(cursor)
    return pieces


def cursor_row_key(cursor: str, raw: str) -> int:
    """The row id a cursor holds, or BAD_USER_INPUT when `raw` cannot be one
    (not plain digits, or past a 64-bit key)."""
    key = row_key(raw)
    if key is None:
        raise not_ours(cursor)
    return key


def connection(
    rows: Sequence[T],
    first: int,
    after: str | None,
    cursor_of: Callable[[T], str],
    total_count: int | Callable[[], int],
) -> dict[str, Any]:
    """Shapes a page fetched with `first + 1` rows into a connection."""
    page = list(rows[:first])
    edges = [{"cursor": cursor_of(row), "node": row} for row in page]
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": len(rows) > first,
            "hasPreviousPage": after is not None,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
        "totalCount": total_count if isinstance(total_count, int) else total_count(),
    }
