"""What the database's failures mean, and when work may run again.

Three failures are not bugs but weather, and get a clear answer instead of
a traceback:

- PostgreSQL drops a connection (a restart, a failover, an administrator's
  `pg_terminate_backend`). Each thread's connection is replaced on its
  next use. A statement that certainly had no effect is run again at once
  on the new connection: a read or a BEGIN outside any transaction. A
  statement inside a transaction cannot be: the transaction died with the
  connection, so its caller hears `DatabaseUnreachable` and, since nothing
  was committed, the unit of work may run again (app.db). A COMMIT cut
  off, or a write outside a transaction, may or may not have taken
  effect: it is never run again (`CommitUncertain`). While the server is
  down, new connections are tried at most every `BACKOFF_MOST` seconds
  (from `BACKOFF_FIRST`, doubling), and work in between is refused at once.
- SQLite finds the write lock held by another process (`DatabaseBusy`):
  the loop's connection never blocks on it (busy timeout 0); app.db
  sleeps without blocking the loop and runs the unit again.
- SQLite cannot grow its files (`DiskFull`); the transaction is rolled back.

Peewee's `playhouse.shortcuts.ReconnectMixin` was the first candidate. It
reconnects and runs again any failed statement outside a transaction,
writes included, whose outcome is unknown after a dropped connection; it
recognises failures by message fragments; it never waits between attempts
while the server is down; and it leaves a transaction whose connection died
to fail on its rollback. So these classes do the same job on its pattern
(wrapping `execute_sql` and `begin`), with those four points settled.

A unit of work (one call of `app.db.in_database_thread`) is one thread's;
`unit` keeps, per thread, what the unit's statements did: whether one
failed without any effect (`clean_failure`) and whether anything was
committed (`wrote`). Only a unit with a clean failure and nothing written
may be run again.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from typing import Any

import peewee

from app.models.errors import Unavailable

log = logging.getLogger(__name__)

#: Seconds before the second attempt to connect to a server that refused
#: the first; doubled after each failure up to `BACKOFF_MOST`.
BACKOFF_FIRST = 0.1
BACKOFF_MOST = 2.0


class DatabaseUnreachable(Unavailable):
    """The database cannot be reached; nothing was changed."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(
            "The database is unreachable, so nothing was read or changed; try again in a moment."
        )
        self.retry_after = retry_after


class CommitUncertain(Unavailable):
    """The connection was lost while a change was being committed."""

    retry_after = None

    def __init__(self) -> None:
        super().__init__(
            "The connection to the database was lost while this change was being "
            "committed: it may or may not have been saved. Read it back before "
            "trying again."
        )


class DatabaseBusy(Unavailable):
    """Another process holds the database's write lock (SQLite)."""

    retry_after = 1

    def __init__(self) -> None:
        super().__init__(
            "The database is locked by another process, so nothing was changed; "
            "try again in a moment."
        )


class DiskFull(Unavailable):
    """The disk under the database is full (SQLite)."""

    retry_after = None

    def __init__(self) -> None:
        super().__init__("The database's disk is full, so nothing was changed.")


class UnitOfWork(threading.local):
    """What the current unit of work on this thread has done (see above)."""

    clean_failure = False
    wrote = False

    def start(self) -> None:
        self.clean_failure = False
        self.wrote = False

    @property
    def may_run_again(self) -> bool:
        return self.clean_failure and not self.wrote


unit = UnitOfWork()


def is_read(sql: str) -> bool:
    """True for a statement that changes nothing (as this project writes them)."""
    return sql.lstrip()[:6].upper() == "SELECT"


class Backoff:
    """When the next connection attempt may be made, shared by all threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._delay = 0.0
        self._next = 0.0

    def check(self) -> None:
        """Refuses at once while the last attempt's wait is not over."""
        wait = self._next - time.monotonic()
        if wait > 0:
            raise DatabaseUnreachable(retry_after=max(1, round(wait)))

    def failed(self, error: BaseException) -> None:
        with self._lock:
            if not self._delay:
                log.warning("the database is unreachable (%s); retrying with backoff", error)
            self._delay = min(BACKOFF_MOST, max(BACKOFF_FIRST, self._delay * 2))
            self._next = time.monotonic() + self._delay

    def succeeded(self) -> None:
        if self._delay:
            with self._lock:
                log.warning("the database is reachable again")
                self._delay = self._next = 0.0


_CONNECTION_ERRORS = (peewee.OperationalError, peewee.InterfaceError)


def _connection_state(database: peewee.Database) -> peewee._ConnectionState:
    """This thread's connection, closed flag and transaction stack: Peewee's
    private `_state`, on which these classes build as ReconnectMixin does."""
    return database._state  # type: ignore[attr-defined]  # private to Peewee, not in its stubs


class ReconnectingPostgresqlDatabase(peewee.PostgresqlDatabase):
    """PostgreSQL whose threads get a new connection when theirs is lost."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.backoff = Backoff()

    def _connect(self) -> Any:
        self.backoff.check()
        try:
            connection = super()._connect()  # type: ignore[misc]  # Peewee's private hook
        except Exception as error:
            self.backoff.failed(error)
            raise DatabaseUnreachable() from error
        self.backoff.succeeded()
        return connection

    def _lost(self) -> bool:
        """Whether this thread's connection is gone (not merely a failed statement)."""
        connection = _connection_state(self).conn
        return connection is None or connection.closed

    def _forget_connection(self) -> None:
        """Drops this thread's dead connection; the next use opens another.
        A transaction in progress stays on the stack for its `atomic` to end."""
        state = _connection_state(self)
        connection = state.conn
        state.conn = None
        state.closed = True
        if connection is not None:
            with contextlib.suppress(Exception):  # dead already: closing is a courtesy
                connection.close()

    def cursor(self, named_cursor: Any = None) -> Any:
        state = _connection_state(self)
        if state.closed and state.transactions:
            # This transaction's connection is gone, and the transaction with it.
            unit.clean_failure = True
            raise DatabaseUnreachable()
        return super().cursor(named_cursor)

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        try:
            return super().execute_sql(sql, params)
        except _CONNECTION_ERRORS as error:
            if not self._lost():
                raise
            self._forget_connection()
            if self.in_transaction():
                unit.clean_failure = True  # the transaction died uncommitted
                raise DatabaseUnreachable() from error
            if not is_read(sql):
                unit.wrote = True  # it may have taken effect: never again
                raise CommitUncertain() from error
            log.info("the database connection was lost; reading again on a new one")
            return super().execute_sql(sql, params)

    def begin(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().begin(*args, **kwargs)
        except _CONNECTION_ERRORS:
            if not self._lost():
                raise
            self._forget_connection()
            log.info("the database connection was lost; beginning again on a new one")
            try:
                super().begin(*args, **kwargs)
            except _CONNECTION_ERRORS as again:
                raise DatabaseUnreachable() from again

    def commit(self) -> None:
        if _connection_state(self).closed:
            unit.clean_failure = True  # lost before COMMIT was ever sent
            raise DatabaseUnreachable()
        try:
            super().commit()
        except _CONNECTION_ERRORS as error:
            if not self._lost():
                raise
            self._forget_connection()
            unit.wrote = True  # perhaps: never again
            raise CommitUncertain() from error
        unit.wrote = True

    def rollback(self) -> None:
        if _connection_state(self).closed:
            return  # the server rolled back when the connection ended
        try:
            super().rollback()
        except _CONNECTION_ERRORS:
            if not self._lost():
                raise
            self._forget_connection()


def _sqlite_error(error: BaseException) -> sqlite3.Error | None:
    """The driver's error behind Peewee's wrapper of it."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, sqlite3.Error):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


class GuardedSqliteDatabase(peewee.SqliteDatabase):
    """SQLite that refuses at once, clearly, when another process holds the
    write lock or the disk is full, instead of waiting on the event loop."""

    def _refusal(self, error: BaseException) -> Unavailable | None:
        cause = _sqlite_error(error)
        code = getattr(cause, "sqlite_errorcode", None)
        if code is None:
            return None
        if code & 0xFF == sqlite3.SQLITE_BUSY:
            unit.clean_failure = True  # the lock was never taken: nothing happened
            return DatabaseBusy()
        if code & 0xFF == sqlite3.SQLITE_FULL:
            return DiskFull()
        return None

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        try:
            cursor = super().execute_sql(sql, params)
        except peewee.OperationalError as error:
            refusal = self._refusal(error)
            if refusal is None:
                raise
            raise refusal from error
        if not _connection_state(self).transactions and not is_read(sql):
            unit.wrote = True
        return cursor

    def begin(self, lock_type: str | None = None) -> None:
        try:
            super().begin(lock_type)
        except peewee.OperationalError as error:
            refusal = self._refusal(error)
            if refusal is None:
                raise
            raise refusal from error

    def commit(self) -> None:
        try:
            super().commit()
        except peewee.OperationalError as error:
            refusal = self._refusal(error)
            if refusal is None:
                raise
            raise refusal from error
        unit.wrote = True

    def rollback(self) -> None:
        connection = _connection_state(self).conn
        if connection is not None and not connection.in_transaction:
            return  # SQLite already rolled back (it does after SQLITE_FULL)
        super().rollback()
