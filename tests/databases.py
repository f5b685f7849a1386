"""The in-process server on either database, for modules whose tests run
once on a SQLite file and once on PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import peewee
import pytest

from app.config import Settings
from app.db import database

#: The `params` of a module's `settings` fixture that runs on both.
DATABASES = ["sqlite", "postgresql"]


def settings_on(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for `request.param`: a SQLite file in `tmp_path`, or a fresh
    database on the session's PostgreSQL server."""
    on_sqlite = Settings(
        database_url=f"sqlite:///{tmp_path / 'test.db'}",
        secret_key="test-secret-key-" + "x" * 32,
        data_dir=tmp_path,
    )
    if request.param == "sqlite":
        return on_sqlite
    postgres = request.getfixturevalue("postgres")
    return replace(on_sqlite, database_url=postgres.create_database(f"t_{uuid.uuid4().hex[:10]}"))


def plan_of(sql: str, params: Any) -> str:
    """How the database runs a statement, as if its tables were large: on
    PostgreSQL with sequential scans ruled out, as its planner would rule
    them out for a long table."""
    if isinstance(database.obj, peewee.PostgresqlDatabase):
        with database.atomic():
            database.execute_sql("SET LOCAL enable_seqscan = off")
            rows = database.execute_sql("EXPLAIN " + sql, params).fetchall()
    else:
        rows = database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return "\n".join(" ".join(map(str, row)) for row in rows)
