"""The statements of a counter change, as SQL prepared once.

Building these with Peewee's query builder for every change cost about
five times as much as executing them (profiled under load), so they are
written out here once per database: the placeholder style comes from
Peewee (`?` for SQLite, `%s` for PostgreSQL) and row locking is added
where the database has it. Identifiers are quoted as both databases
accept.

The new value is computed by the database, in 64-bit arithmetic
(`CAST(value AS BIGINT)`), and the WHERE clause refuses a result outside
the 32-bit range, so no read-modify-write happens in Python and an
out-of-range change updates no row.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

COLUMNS = '"id", "name", "value", "operation_count", "created_at", "updated_at"'


@dataclass(frozen=True, slots=True)
class CounterStatements:
    #: ("name",) -> (id, value), locking the row where the database can.
    select: str
    #: (amount, updated_at, id, amount, min, max) -> the row, or nothing.
    add: str
    #: (value, updated_at, id, value, min, max) -> the row, or nothing.
    set: str
    #: (counter_id, operation_number, type, previous_value, value, timestamp,
    #: actor_id, request_key)
    record: str
    #: (counter_id, request_key) -> (id, timestamp) of the operation made
    #: with that key.
    prior: str
    #: (id,): takes its request key from an operation whose key is forgotten.
    forget: str


def _update(new_value: str, p: str) -> str:
    return (
        f'UPDATE "counter" SET "value" = {new_value}, '
        f'"operation_count" = "operation_count" + 1, "updated_at" = {p} '
        f'WHERE "id" = {p} AND {new_value} BETWEEN {p} AND {p} RETURNING {COLUMNS}'
    )


@lru_cache(maxsize=4)
def statements(param: str, row_locks: bool) -> CounterStatements:
    p = param
    return CounterStatements(
        select=f'SELECT "id", "value" FROM "counter" WHERE "name" = {p}'
        + (" FOR UPDATE" if row_locks else ""),
        add=_update(f'CAST("value" AS BIGINT) + {p}', p),
        set=_update(p, p),
        record=(
            'INSERT INTO "counter_operation" ("counter_id", "operation_number", '
            '"type", "previous_value", "value", "timestamp", "actor_id", "request_key") '
            f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
        ),
        prior=(
            'SELECT "id", "timestamp" FROM "counter_operation" '
            f'WHERE "counter_id" = {p} AND "request_key" = {p}'
        ),
        forget=f'UPDATE "counter_operation" SET "request_key" = NULL WHERE "id" = {p}',
    )
