"""A server process on PostgreSQL rides out the database going away.

Its connections are cut (`pg_terminate_backend`, as a failover or an
administrator does) or the whole server stops and comes back; the process
is never restarted. Reads and changes that certainly did not commit are
retried once on a fresh connection; a change whose commit may or may not
have happened is never run twice, and the client is told so.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import ServerProcess
from tests.server_client import INCREMENT, VALUE, InBackground, ServerClient, wait_for
from tests.services import Postgres

SECRET = "reconnect-test-secret-" + "k" * 30
#: The server's own sessions on its database (not ours, not PostgreSQL's workers).
SERVER_BACKENDS = """
    SELECT pid, wait_event_type, wait_event FROM pg_stat_activity
    WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


class Server(ServerClient):
    """A `server.py` process on a database of the test's private PostgreSQL."""

    def __init__(self, url: str, database: str, postgres: Postgres) -> None:
        super().__init__(url)
        self.database = database
        self.postgres = postgres

    def backends(self) -> list[tuple[int, str | None, str | None]]:
        with self.postgres.connect(self.database) as connection:
            return connection.execute(SERVER_BACKENDS, (self.database,)).fetchall()

    def cut_connections(self, pids: list[int] | None = None) -> None:
        """Terminates the server's sessions (all, or those given) and waits
        until PostgreSQL has ended them."""
        with self.postgres.connect(self.database) as connection:
            if pids is None:
                pids = [row[0] for row in connection.execute(SERVER_BACKENDS, (self.database,))]
            assert pids, "the server holds no connection to cut"
            for pid in pids:
                connection.execute("SELECT pg_terminate_backend(%s)", (pid,))
            wait_for(
                lambda: (
                    not {row[0] for row in connection.execute(SERVER_BACKENDS, (self.database,))}
                    & set(pids)
                ),
                "the server's sessions to end",
            )


@pytest.fixture
def server(tmp_path: Path, private_postgres: Postgres) -> Iterator[Server]:
    database = f"t_{uuid.uuid4().hex[:10]}"
    private_postgres.create_database(database)
    env = {"DATABASE_URL": private_postgres.url(database), "SECRET_KEY": SECRET}
    with ServerProcess(tmp_path, env) as process:
        yield Server(process.url, database, private_postgres)


def test_every_kind_of_request_works_again_right_after_the_connections_are_cut(server):
    assert server.value("kept") == 0
    assert server.graphql(INCREMENT % "kept")["data"]["incrementCounter"]["value"] == 1
    assert server.counter_snapshot("kept")["value"] == 1  # every thread has connected

    server.cut_connections()
    assert server.graphql(VALUE % "kept") == {"data": {"counter": {"value": 1}}}

    server.cut_connections()
    status, page = server.get("/counters")
    assert status == 200
    assert b'href="/counters/kept"' in page

    server.cut_connections()
    snapshot = server.counter_snapshot("kept")
    assert (snapshot["type"], snapshot["value"]) == ("snapshot", 1)

    server.cut_connections()
    assert server.health() == (200, {"status": "ok"})

    server.cut_connections()
    assert server.graphql(INCREMENT % "kept") == {"data": {"incrementCounter": {"value": 2}}}
    assert server.value("kept") == 2


def test_while_postgresql_is_down_requests_fail_clearly_and_all_works_once_it_is_back(server):
    assert server.graphql(INCREMENT % "kept")["data"]["incrementCounter"]["value"] == 1
    assert server.graphql(INCREMENT % "kept")["data"]["incrementCounter"]["value"] == 2

    server.postgres.stop()
    status, body = server.health()
    assert status == 503
    assert body["status"] == "unavailable"
    assert "unreachable" in body["database"]
    for query in (VALUE % "kept", INCREMENT % "kept"):
        reply = server.graphql(query)
        (error,) = reply["errors"]
        assert "database is unreachable" in error["message"], error
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    status, page = server.get("/counters", accept="text/html")
    assert status == 503
    assert b"<h1>503: The database is unreachable" in page
    assert server.health()[0] == 503  # still down, and still answering

    server.postgres.start()
    wait_for(lambda: server.health()[0] == 200, "/healthz to answer 200 again")
    assert server.health() == (200, {"status": "ok"})
    assert server.value("kept") == 2  # acknowledged before the stop: kept; refused: not applied
    assert server.counter_snapshot("kept")["value"] == 2
    assert server.get("/counters")[0] == 200
    assert server.graphql(INCREMENT % "kept") == {"data": {"incrementCounter": {"value": 3}}}


def test_a_change_whose_connection_is_cut_before_it_commits_is_retried_once(server):
    """The server's transaction waits for a row lock the test holds; its
    session is cut meanwhile. Nothing was committed, so the server runs the
    change again on a fresh connection, and it counts exactly once."""
    assert server.graphql(INCREMENT % "held")["data"]["incrementCounter"]["value"] == 1
    with server.postgres.connect(server.database) as lock, lock.transaction():
        lock.execute('SELECT id FROM "counter" WHERE name = %s FOR UPDATE', ("held",))
        change = InBackground(lambda: server.graphql(INCREMENT % "held"))
        waiting = wait_for(
            lambda: [pid for pid, kind, _ in server.backends() if kind == "Lock"],
            "the server's change to wait for the row lock",
        )
        server.cut_connections(waiting)
        wait_for(
            lambda: [pid for pid, kind, _ in server.backends() if kind == "Lock"],
            "the change to wait again, on a new connection",
        )
    assert change.result() == {"data": {"incrementCounter": {"value": 2}}}
    assert server.value("held") == 2


SLOW_COMMIT = """
    CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN PERFORM pg_sleep(5); RETURN NULL; END $$;
    CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON "counter"
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
"""


def test_a_change_cut_during_its_commit_is_not_run_again_and_the_client_is_told(server):
    """A deferred trigger keeps the server's COMMIT busy for a while; its
    session is cut meanwhile. The server cannot know whether the commit
    happened, so it must not run the change again: it says so."""
    assert server.graphql(INCREMENT % "unsure")["data"]["incrementCounter"]["value"] == 1
    with server.postgres.connect(server.database) as connection:
        connection.execute(SLOW_COMMIT)
        change = InBackground(lambda: server.graphql(INCREMENT % "unsure"))
        committing = wait_for(
            lambda: [pid for pid, _, event in server.backends() if event == "PgSleep"],
            "the server's change to be committing",
        )
        server.cut_connections(committing)
        reply = change.result()
        connection.execute('DROP TRIGGER slow_commit ON "counter"')
    (error,) = reply["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "may or may not have been saved" in error["message"], error
    # Cut during its commit, this one was in fact rolled back; run again, it
    # would have slept and then committed.
    assert server.value("unsure") == 1
