"""Fixtures: the real app on a free port, with a fresh SQLite file.

pytest-tornado supplies `io_loop`, `http_server`, `http_port`,
`base_url` and `http_client` once an `app` fixture exists; everything here
is built on those, so moving to pytest-asyncio one day touches this file
only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import tornado.web
from tornado.ioloop import IOLoop

from app.application import close_app, make_app
from app.config import Settings
from app.realtime.registry import Registry
from tests.cleanup import assert_nothing_left
from tests.clients import Clients
from tests.cluster import Process, running_pair
from tests.services import Postgres, Redis, TinyDisk


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'test.db'}",
        secret_key="test-secret-key-" + "x" * 32,
        data_dir=tmp_path,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[tornado.web.Application]:
    application = make_app(settings)
    yield application
    close_app(application)


@pytest.fixture(autouse=True)
def nothing_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that serves the in-process app: once the test's
    clients are closed, no topic has a subscriber and presence counts
    nothing, as after any socket's end (tests/cleanup.py). Set up before
    `io_loop` and `app`, so it is torn down after the test's clients but
    while the loop and the app are still there."""
    if "app" not in request.fixturenames:
        yield
        return
    io_loop: IOLoop = request.getfixturevalue("io_loop")
    application: tornado.web.Application = request.getfixturevalue("app")
    yield
    assert_nothing_left(io_loop, application.settings["services"])


@pytest.fixture
def registry(app: tornado.web.Application) -> Registry:
    return app.settings["services"].registry


@pytest.fixture
def clients(http_server: object, base_url: str, http_client: object) -> Iterator[Clients]:
    made = Clients(base_url, http_client)  # type: ignore[arg-type]
    yield made
    made.close_all()


# ------------------------------------------------- several server processes


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL server for the session; each test makes its database."""
    cluster = Postgres()
    yield cluster
    cluster.close()


@pytest.fixture
def private_postgres() -> Iterator[Postgres]:
    """A PostgreSQL server of the test's own, for tests that stop and start it."""
    cluster = Postgres()
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    """One Redis server for the session; `pair` empties it for each test."""
    server = Redis()
    yield server
    server.close()


@pytest.fixture
def private_redis() -> Iterator[Redis]:
    """A Redis of the test's own, for tests that stop and start it."""
    server = Redis()
    yield server
    server.close()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[TinyDisk]:
    """A 32 MiB filesystem of the test's own, mounted in its folder."""
    disk = TinyDisk(str(tmp_path / "disk"))
    yield disk
    disk.close()


@pytest.fixture
def cluster_env() -> dict[str, str]:
    """Extra environment for the processes of `pair` (modules override it)."""
    return {}


@pytest.fixture
def pair(
    tmp_path: Path, postgres: Postgres, redis_server: Redis, cluster_env: dict[str, str]
) -> Iterator[tuple[Process, Process]]:
    """Two server processes sharing one PostgreSQL database and one Redis."""
    with running_pair(tmp_path, postgres, redis_server, cluster_env) as processes:
        yield processes
