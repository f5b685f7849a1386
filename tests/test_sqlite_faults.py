"""A server process on SQLite when the database cannot be written: another
process holds the write lock, or the disk is full. The server keeps
answering, says what is wrong, and changes nothing it did not acknowledge.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import ServerProcess
from tests.server_client import InBackground, ServerClient
from tests.services import TinyDisk


def run_server(data_dir: Path) -> Iterator[ServerClient]:
    with ServerProcess(data_dir) as server:
        yield ServerClient(server.url)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerClient]:
    yield from run_server(tmp_path)


@pytest.fixture
def server_on_tiny_disk(tiny_disk: TinyDisk) -> Iterator[ServerClient]:
    yield from run_server(Path(tiny_disk.folder))


def test_while_another_process_holds_the_write_lock_the_server_answers_and_the_change_waits(
    tmp_path, server
):
    assert server.increment("locked") == {"data": {"incrementCounter": {"value": 1}}}
    holder = sqlite3.connect(tmp_path / "app.db", isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as another process's change
        change = InBackground(lambda: server.increment("locked"))
        # Several rounds, so that the change is surely being tried meanwhile:
        # a loop waiting for the lock would answer none of them before it.
        for _ in range(10):
            assert server.health() == (200, {"status": "ok"})
            assert server.value("locked") == 1  # reads go on (WAL)
            assert change.pending, change.result()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert change.result() == {"data": {"incrementCounter": {"value": 2}}}
    assert server.value("locked") == 2


def test_a_change_refused_for_a_lock_held_too_long_says_so_and_changes_nothing(tmp_path, server):
    assert server.increment("stuck") == {"data": {"incrementCounter": {"value": 1}}}
    holder = sqlite3.connect(tmp_path / "app.db", isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        reply = server.increment("stuck")  # waits, off the loop, then gives up
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    (error,) = reply["errors"]
    assert error["message"].startswith("The database is locked by another process"), error
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "retryAfter": 1}
    assert server.value("stuck") == 1
    assert server.increment("stuck") == {"data": {"incrementCounter": {"value": 2}}}


def test_a_full_disk_turns_healthz_to_503_and_refuses_changes_until_space_is_freed(
    tiny_disk, server_on_tiny_disk
):
    server = server_on_tiny_disk
    assert server.increment("roomy") == {"data": {"incrementCounter": {"value": 1}}}
    assert server.health() == (200, {"status": "ok"})

    tiny_disk.fill()
    status, body = server.health()
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["database"].startswith("disk full"), body
    (error,) = server.increment("roomy")["errors"]
    assert error["message"] == "The database's disk is full, so nothing was changed."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert server.value("roomy") == 1
    snapshot = server.counter_snapshot("roomy")  # sockets still open, and read
    assert snapshot["value"] == 1

    tiny_disk.free()
    assert server.health() == (200, {"status": "ok"})
    assert server.increment("roomy") == {"data": {"incrementCounter": {"value": 2}}}
    assert server.value("roomy") == 2
