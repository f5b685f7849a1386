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
  `SQLITE_SYNCHRONOUS=full` syncs the WAL at every commit, so nothing
  acknowledged is lost to a power cut either; group commit shares that
  sync among the changes of a batch.
- Transactions `BEGIN IMMEDIATE`: a change takes the write lock before its
  first read, so two processes never deadlock upgrading a read lock.
- No busy timeout while serving: the connection lives on the event loop,
  and waiting there for a lock another process holds would stall every
  socket. A unit of work that finds the lock taken changed nothing
  (app.db_faults); `in_database_thread` sleeps on the loop, polling
  (`LOCK_POLL_FIRST` doubling to `LOCK_POLL_MOST`), and runs it again for
  up to `LOCK_WAIT_SECONDS`, then answers that the database is locked.
  Migrations, at start-up, wait for the lock as before (`MIGRATION_BUSY_MS`).

Where queries run. On SQLite, on the event loop, synchronously, as Peewee
does: a counter change costs ~0.3 ms, less than handing it to a thread.
Changes (`in_write_batch`) are committed in batches, all those that start
in one turn of the loop together, and nobody hears of one before its batch
is durable (app.group_commit); the WAL is checkpointed on a thread of its
own (app.checkpoints), never inside a commit on the loop.
On PostgreSQL a change was measured at ~1.4 ms (five round trips of
~0.17 ms plus the commit's fsync), and every other socket of the process
would wait meanwhile. So there, GraphQL operations and counter socket
operations run on one database thread with its own connection
(`in_database_thread`). Exactly one: every write then commits in one
order, and app.events hands each event back to the loop
(`IOLoop.add_callback`) in that same order; a pool of several threads
would publish out of commit order. Cheap reads (a credential, a
subscription event's extra fields) stay on the loop.

When PostgreSQL drops a connection, the thread that finds it gets a new
one (app.db_faults); a unit of work the loss cut short before it committed
anything runs once more on the database thread.

`/healthz` asks `health_problem`: the database must answer, and on SQLite
its disk must have `MIN_FREE_DISK` bytes free, since a write that cannot
grow the files fails.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import peewee
from playhouse.db_url import parse
from playhouse.migrations import Runner

from app.checkpoints import Checkpointer
from app.db_faults import DatabaseBusy, GuardedSqliteDatabase, ReconnectingPostgresqlDatabase, unit
from app.group_commit import GroupCommit
from app.models.errors import Unavailable

log = logging.getLogger(__name__)

database = peewee.DatabaseProxy()
_database_thread: ThreadPoolExecutor | None = None
#: SQLite: the batches changes are committed in (app.group_commit).
_group: GroupCommit | None = None
_checkpointer: Checkpointer | None = None
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: What `SQLITE_SYNCHRONOUS` may say, and what each promises (README):
#: "normal" survives the process being killed, "full" a power cut too.
SYNCHRONOUS_LEVELS = ("normal", "full")
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    # Checkpoints run on their own thread (app.checkpoints), not in a
    # commit on the loop.
    "wal_autocheckpoint": 0,
    "foreign_keys": 1,
    "busy_timeout": 0,
    "cache_size": -16 * 1024,
}
#: How long a unit of work waits, off the loop, for another process's
#: SQLite write lock before it is refused; and how often it looks.
LOCK_WAIT_SECONDS = 5.0
LOCK_POLL_FIRST = 0.002
LOCK_POLL_MOST = 0.05
#: How long migrations at start-up wait for that lock (milliseconds).
MIGRATION_BUSY_MS = 30_000
#: Seconds to wait for PostgreSQL to accept a connection, unless the URL
#: says (`?connect_timeout=`).
CONNECT_TIMEOUT = 5
#: Fewer free bytes than this where SQLite writes, and /healthz says so.
MIN_FREE_DISK = 8 * 1024 * 1024


def open_database(url: str, synchronous: str = "normal") -> peewee.Database:
    """Connects to the database at `url` and binds the models to it;
    `synchronous` is SQLite's durability level (SYNCHRONOUS_LEVELS)."""
    global _group, _checkpointer
    close_database()
    if synchronous not in SYNCHRONOUS_LEVELS:
        raise ValueError(f"SQLITE_SYNCHRONOUS is one of {SYNCHRONOUS_LEVELS}, not {synchronous!r}")
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        db: peewee.Database = GuardedSqliteDatabase(
            str(path),
            pragmas={**SQLITE_PRAGMAS, "synchronous": synchronous},
            timeout=0,
            lock_type="IMMEDIATE",
            returning_clause=True,
        )
    else:
        if url.startswith("postgres://"):
            # Heroku's spelling; playhouse.db_url wants the long scheme.
            url = "postgresql://" + url[len("postgres://") :]
        if not url.startswith("postgresql://"):
            raise ValueError("DATABASE_URL must start sqlite:///, postgres:// or postgresql://")
        options = parse(url)
        options.setdefault("connect_timeout", CONNECT_TIMEOUT)
        # psycopg 3, the maintained driver (Peewee would otherwise try psycopg2).
        db = ReconnectingPostgresqlDatabase(**options, prefer_psycopg3=True)
    database.initialize(db)
    db.connect(reuse_if_open=True)
    _use_database_thread(isinstance(db, peewee.PostgresqlDatabase))
    if isinstance(db, peewee.SqliteDatabase):
        _group = GroupCommit(db)
        _checkpointer = Checkpointer(path).start()
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
    """Runs `work`, one unit of work that reads (or writes only rarely),
    where database calls do not block the loop: the database thread on
    PostgreSQL, right here on SQLite (see above); again, when its first run
    changed nothing and failed in a way that a second run may not (a lost
    connection, a lock held elsewhere). On SQLite, while a batch of changes
    is open it runs in that batch, and answers once the batch is durable."""
    call = functools.partial(work, *args, **kwargs)
    if _database_thread is not None:
        return await _in_thread(call)
    if _group is not None and _group.current is not None:
        return await _group.run(call)
    return await _on_loop(call)


async def in_write_batch(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs `work`, a unit of work that changes something: on SQLite in the
    batch of changes that commit together (app.group_commit), returning once
    that batch is durable; on PostgreSQL as `in_database_thread`."""
    call = functools.partial(work, *args, **kwargs)
    if _database_thread is not None:
        return await _in_thread(call)
    if _group is None:
        return await _on_loop(call)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    pause = LOCK_POLL_FIRST
    while True:
        try:
            _group.open()
            break
        except DatabaseBusy:
            # Another process holds the write lock: wait off the loop.
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, LOCK_POLL_MOST)
    return await _group.run(call)


async def settled() -> None:
    """Returns once every change made so far on the loop's connection is
    durable: for code that changed something outside `in_write_batch`
    (a sign-in's credential) and is about to say so."""
    if _group is not None:
        await _group.settled()


async def _in_thread(call: Callable[[], T]) -> T:
    assert _database_thread is not None
    return await asyncio.get_running_loop().run_in_executor(_database_thread, _retried_once, call)


class _Again:
    """What `_attempt` returns for a unit of work that may run again."""


_AGAIN = _Again()


def _attempt(call: Callable[[], T], last: bool) -> T | _Again:
    """One run of a unit of work; `_AGAIN` instead of its outcome when it
    failed without changing anything, and it is not the last run. A result
    still to be awaited (async resolvers) is never discarded."""
    unit.start()
    try:
        result = call()
    except Exception:
        if last or not unit.may_run_again:
            raise
        return _AGAIN
    if last or not unit.may_run_again or inspect.isawaitable(result):
        return result
    return _AGAIN


def _retried_once(call: Callable[[], T]) -> T:
    """On the database thread: a second run, on a new connection, for a
    unit of work cut short by a lost connection before it committed."""
    outcome = _attempt(call, last=False)
    if isinstance(outcome, _Again):
        log.info("the database connection was lost before anything was committed; running again")
        outcome = _attempt(call, last=True)
    return outcome  # type: ignore[return-value]


async def _on_loop(call: Callable[[], T]) -> T:
    """On the loop (SQLite): while another process holds the write lock,
    waits without blocking the loop and runs the unit of work again."""
    outcome = _attempt(call, last=False)
    if not isinstance(outcome, _Again):
        return outcome
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    pause = LOCK_POLL_FIRST
    while isinstance(outcome, _Again):
        await asyncio.sleep(pause)
        pause = min(pause * 2, LOCK_POLL_MOST)
        outcome = _attempt(call, last=time.monotonic() >= deadline)
    return outcome


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
        db.execute_sql(f"PRAGMA busy_timeout = {MIGRATION_BUSY_MS}")
        try:
            with db.atomic():
                applied = Runner(db, directory=str(MIGRATIONS_DIR)).up()
        finally:
            db.execute_sql("PRAGMA busy_timeout = 0")
    for name in applied:
        log.info("applied migration %s", name)
    return applied


def close_database() -> None:
    """Commits an open batch, stops the database's threads and closes it."""
    global _group, _checkpointer
    if _group is not None:
        _group.flush()
        _group = None
    if _checkpointer is not None:
        _checkpointer.stop()
        _checkpointer = None
    _use_database_thread(False)
    close_database_connection()


def health_problem() -> str | None:
    """None while the database answers and can write; else what is wrong,
    in a few words for /healthz."""
    try:
        database.execute_sql("SELECT 1").fetchone()
    except Unavailable:
        return "unreachable"
    except peewee.PeeweeException:
        log.exception("database health check failed")
        return "not answering"
    if isinstance(database.obj, peewee.SqliteDatabase):
        free = shutil.disk_usage(Path(database.obj.database).parent).free
        if free < MIN_FREE_DISK:
            return (
                f"disk full: {free // 1024} KiB free where it writes, "
                f"fewer than the {MIN_FREE_DISK // 1024 // 1024} MiB it needs"
            )
    return None
