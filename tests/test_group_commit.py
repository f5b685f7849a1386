"""Group commit (app.group_commit): changes started together share one
transaction; one that fails fails alone; nobody hears of a change before
it is durable; the WAL is checkpointed off the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from prometheus_client import REGISTRY

from app import db
from app.models.counter import INT_MAX, Counter
from app.models.errors import InvalidInput


def batches() -> tuple[float, float]:
    """(batches committed, units in them) so far, from /metrics' histogram."""
    count = REGISTRY.get_sample_value("live_commit_batch_units_count") or 0.0
    total = REGISTRY.get_sample_value("live_commit_batch_units_sum") or 0.0
    return count, total


class Boom(Exception):
    pass


def increment_then_fail(name: str) -> None:
    Counter.increment(name)
    raise Boom("after its change")


@pytest.mark.gen_test
async def test_changes_started_together_commit_together_and_a_failing_one_fails_alone(clients):
    watcher = await clients.counter_socket("together")
    before = batches()
    outcomes = await asyncio.gather(
        db.in_write_batch(Counter.increment, "together", 1),
        db.in_write_batch(increment_then_fail, "together"),  # its change is undone
        db.in_write_batch(Counter.increment, "together", INT_MAX),  # out of range
        db.in_write_batch(Counter.increment, "together", 10),
        return_exceptions=True,
    )
    first, failed, refused, last = outcomes
    assert isinstance(failed, Boom)
    assert isinstance(refused, InvalidInput)
    assert (first.value, last.value) == (1, 11)
    count, units = batches()
    assert (count - before[0], units - before[1]) == (1, 4)  # one transaction for all four
    # The watcher hears exactly the two changes that were saved, in order.
    heard = [await watcher.receive(), await watcher.receive()]
    assert [(e["previousValue"], e["value"]) for e in heard] == [(0, 1), (1, 11)]
    data = await clients.data('{ counter(name: "together") { value operationCount } }')
    assert data["counter"] == {"value": 11, "operationCount": 2}
    watcher.close()


@pytest.mark.gen_test
async def test_a_read_that_sees_an_open_batch_answers_after_its_commit(clients):
    """A query running while a change waits for its commit sees the change,
    so it must not answer before the change is durable either."""
    change = asyncio.ensure_future(db.in_write_batch(Counter.increment, "seen", 5))
    await asyncio.sleep(0)  # the change ran; its batch commits on the loop's next turn
    assert not change.done()
    read = asyncio.ensure_future(db.in_database_thread(lambda: Counter.lookup("seen").value))
    before = batches()
    assert await read == 5
    assert batches()[0] == before[0] + 1  # it answered after that commit
    assert (await change).value == 5


@pytest.mark.gen_test
async def test_the_wal_is_checkpointed_into_the_database_file_off_the_loop(app, settings):
    path = settings.sqlite_path
    assert path is not None
    connection = db.database.connection()
    # The loop's connection never checkpoints in a commit of its own.
    assert connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    for _ in range(300):
        await db.in_write_batch(Counter.increment, "checkpointed")
    # The database file itself, read without its WAL, catches up.
    deadline = time.monotonic() + 10
    while True:
        main_file = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            row = main_file.execute(
                "SELECT value FROM counter WHERE name = 'checkpointed'"
            ).fetchone()
        except sqlite3.OperationalError:
            row = None  # the table itself is not there yet
        finally:
            main_file.close()
        if row == (300,):
            break
        assert time.monotonic() < deadline, f"the database file holds {row}"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize(("level", "pragma"), [("normal", 1), ("full", 2)])
def test_sqlite_synchronous_sets_how_durable_a_commit_is(tmp_path, level, pragma):
    database = db.open_database(f"sqlite:///{tmp_path / 'app.db'}", level)
    try:
        assert database.execute_sql("PRAGMA synchronous").fetchone() == (pragma,)
    finally:
        db.close_database()
