"""The in-process server on either database, for modules whose tests run
once on a SQLite file and once on PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from app.config import Settings

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
