"""The database: chosen by URL, tuned for SQLite, migrated by version.

Models bind to `database`, a proxy that `open_database` points at the real
connection, so tests and the server choose the file without touching the
models.

SQLite settings, and why:

- WAL journal: readers never block the writer.
- `synchronous=NORMAL` in WAL mode: a committed transaction is in the WAL
  file before COMMIT returns, so it survives the process being killed
  (`kill -9`); only an operating-system crash or power cut can lose the
  last few, which is the trade every WAL deployment makes.
- Transactions `BEGIN IMMEDIATE`: a change takes the write lock before its
  first read, so two processes never deadlock upgrading a read lock.
- A busy timeout, so a second process waits for the lock instead of failing.

Where queries run. On SQLite, on the event loop, synchronously, as Peewee
does: a counter change costs ~0.3 ms, less than handing it to a thread.
On PostgreSQL a change was measured at ~1.4 ms (five round trips of
~0.17 ms plus the commit's fsync), and every other socket of the process
would wait meanwhile. So there, GraphQL operations and counter socket
operations run on one database thread with its own connection
(`in_database_thread`). Exactly one: every write then commits in one
order, and app.events hands each event back to the loop
(`IOLoop.add_callback`) in that same order; a pool of several threads
would publish out of commit order. Cheap reads (a credential, a
subscription event's extra fields) stay on the loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import peewee
from playhouse.db_url import connect
from playhouse.migrations import Runner

log = logging.getLogger(__name__)

database = peewee.DatabaseProxy()
_database_thread: ThreadPoolExecutor | None = None
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 5000,
    "cache_size": -16 * 1024,
}


def open_database(url: str) -> peewee.Database:
    """Connects to the database at `url` and binds the models to it."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        db: peewee.Database = peewee.SqliteDatabase(
            str(path),
            pragmas=SQLITE_PRAGMAS,
            timeout=5,
            lock_type="IMMEDIATE",
            returning_clause=True,
        )
    else:
        if url.startswith("postgres://"):
            # Heroku's spelling; playhouse.db_url wants the long scheme.
            url = "postgresql://" + url[len("postgres://") :]
        # psycopg 3, the maintained driver (Peewee would otherwise try psycopg2).
        db = connect(url, prefer_psycopg3=True)
    database.initialize(db)
    db.connect(reuse_if_open=True)
    _use_database_thread(isinstance(db, peewee.PostgresqlDatabase))
    return db


def _use_database_thread(enabled: bool) -> None:
    global _database_thread
    if _database_thread is not None:
        _database_thread.submit(close_database_connection)
        _database_thread.shutdown(wait=True)
        _database_thread = None
    if enabled:
        _database_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="database")


def close_database_connection() -> None:
    """Closes this thread's connection (Peewee keeps one per thread)."""
    if database.obj is not None and not database.is_closed():
        database.close()


async def in_database_thread(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs `work` where database calls do not block the loop: the
    database thread on PostgreSQL, right here on SQLite (see above)."""
    if _database_thread is None:
        return work(*args, **kwargs)
    call = functools.partial(work, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_database_thread, call)


#: Any fixed number: the PostgreSQL advisory lock that serialises migrations.
MIGRATION_LOCK = 0x6C697665


def migrate(db: peewee.Database) -> list[str]:
    """Applies pending migrations in order; returns the names applied.

    Safe when several processes start at once: on PostgreSQL they queue on
    an advisory lock, on SQLite on the write lock of one transaction (DDL is
    transactional in both), and whoever comes second finds nothing to do.
    """
    if isinstance(db, peewee.PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            applied = Runner(db, directory=str(MIGRATIONS_DIR)).up()
        finally:
            db.execute_sql("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    else:
        with db.atomic():
            applied = Runner(db, directory=str(MIGRATIONS_DIR)).up()
    for name in applied:
        log.info("applied migration %s", name)
    return applied


def close_database() -> None:
    _use_database_thread(False)
    close_database_connection()


def is_healthy() -> bool:
    """True when the database answers a trivial query."""
    try:
        database.execute_sql("SELECT 1").fetchone()
    except peewee.PeeweeException:
        log.exception("database health check failed")
        return False
    return True
