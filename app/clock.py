"""Time as the project stores and shows it: naive UTC, ISO-8601 with ms."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now in UTC, without tzinfo (how the database stores it), to the ms."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def isoformat_ms(moment: datetime) -> str:
    """`2025-01-15T12:00:01.000Z`: the one timestamp format of every API."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
