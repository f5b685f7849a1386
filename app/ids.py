"""Relay global ids: opaque base64 of `Type:key`, shared by every API."""

from __future__ import annotations

import base64
import binascii
import re

#: The largest row key: databases keep ids in signed 64-bit integers, and
#: PostgreSQL refuses a larger number in a query rather than finding nothing.
MAX_ROW_KEY = 2**63 - 1
#: ASCII digits only: `str.isdigit` also accepts "²" (which `int` refuses)
#: and "٣" (which `int` reads as 3).
_ROW_KEY = re.compile(r"[0-9]{1,19}")


def to_global_id(type_name: str, key: object) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode()


def from_global_id(global_id: str) -> tuple[str, str] | None:
    """(type name, key), or None when `global_id` is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(global_id.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        return None
    type_name, sep, key = raw.partition(":")
    if not sep or not type_name or not key:
        return None
    return type_name, key


def row_key(text: str) -> int | None:
    """`text` as a row id (1 to MAX_ROW_KEY, plain digits), or None when it
    cannot be one, so that callers refuse it before it reaches a query."""
    if not _ROW_KEY.fullmatch(text):
        return None
    key = int(text)
    return key if 1 <= key <= MAX_ROW_KEY else None
