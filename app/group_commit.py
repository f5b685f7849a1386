"""Group commit with an output gate, for SQLite on the event loop.

Why: a commit is the dear part of a change. Each one writes the pages it
touched to the WAL (seven for a counter change: the row, its indexes, the
operation log and its indexes), and with `synchronous=full` waits for the
disk too; the statements themselves cost a fraction of that. Changes that
arrive together can share one commit, as Durable Objects and every
database's group commit do, if nobody is told of a change before the
commit that makes it durable.

How:

- A batch is one transaction (`BEGIN IMMEDIATE`). The first unit of work
  that may write opens one and schedules its commit for the loop's next
  turn, so every unit that starts on the loop before then joins it.
- Each unit runs in its own savepoint: one that fails is rolled back alone,
  and the events it published are dropped with it.
- The output gate. Events published while a batch is open are held
  (`app.events.hold`), and a unit's caller gets its result only once the
  batch has committed. A read that runs while a batch is open sees its
  changes, so it waits for the commit as well; `settled` is the same wait
  for code that touched the database outside a unit.
- After COMMIT: first the callers are released (the HTTP responses and
  socket results go out), then the held events are handed on, in commit
  order, as one batch (`app.events.publish_all`), so a large fan-out never
  delays the acknowledgements of the changes it describes.
- A batch whose COMMIT fails is rolled back whole, publishes nothing, and
  each of its units hears `NotSaved`.

Everything here runs on the loop's thread, with the one connection Peewee
keeps for it. PostgreSQL works differently (app.db: a database thread, a
transaction per unit), and does not use this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

import peewee

from app import events, metrics
from app.models.errors import Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class NotSaved(Unavailable):
    """The batch a change was part of failed to commit: nothing of it was saved."""

    retry_after = 1

    def __init__(self) -> None:
        super().__init__(
            "The database could not save this change (its commit failed), so "
            "nothing was changed; try again in a moment."
        )


class Batch:
    """One open transaction that units of work join until it commits."""

    __slots__ = ("_db", "_transaction", "_waiters", "held", "loop", "lost", "units")

    def __init__(self, db: peewee.Database, loop: asyncio.AbstractEventLoop) -> None:
        self._db = db
        self.loop = loop
        # BEGIN IMMEDIATE (the database's lock_type): may raise DatabaseBusy,
        # before anything is held or scheduled.
        self._transaction = db.atomic()
        self._transaction.__enter__()
        self._waiters: list[asyncio.Future[None]] = []
        #: Events of the units that succeeded so far, in commit order.
        self.held: list[events.Event] = []
        #: How many units ran in this batch.
        self.units = 0
        #: Set when SQLite rolled the whole transaction back by itself (it
        #: may, after a full disk): every unit of the batch fails with it.
        self.lost: Exception | None = None

    def run(self, call: Callable[[], T]) -> T:
        """Runs one unit in its own savepoint; its events join the batch's
        unless it fails, in which case its changes are rolled back."""
        if self.lost is not None:
            raise self.lost
        self.units += 1
        mark = len(self.held)
        try:
            with self._db.savepoint():
                return call()
        except BaseException as error:
            del self.held[mark:]
            if not self._db.connection().in_transaction:
                self.lost = error if isinstance(error, Unavailable) else NotSaved()
                raise self.lost from error
            raise

    def durable(self) -> asyncio.Future[None]:
        """Resolved once this batch has committed (or failed: NotSaved)."""
        waiter = self.loop.create_future()
        self._waiters.append(waiter)
        return waiter

    def commit(self) -> list[events.Event] | None:
        """Commits; the events to publish, or None when the commit failed
        (then everything in the batch was rolled back)."""
        if self.lost is not None:
            # SQLite rolled it all back already: this only pops Peewee's state.
            self._transaction.__exit__(type(self.lost), self.lost, None)
            self._release(self.lost)
            return None
        try:
            self._transaction.__exit__(None, None, None)
        except Exception as error:
            log.exception("a batch of %d units failed to commit; none of it was saved", self.units)
            self._release(error if isinstance(error, Unavailable) else NotSaved())
            return None
        self._release(None)
        return self.held

    def _release(self, failure: Exception | None) -> None:
        for waiter in self._waiters:
            if waiter.done():  # its caller was cancelled meanwhile
                continue
            if failure is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(failure)


class GroupCommit:
    """Opens, fills and commits batches on the loop (see the module's docstring)."""

    def __init__(self, db: peewee.Database) -> None:
        self.db = db
        self.current: Batch | None = None

    def open(self) -> Batch:
        """The open batch, opening one if none is (may raise DatabaseBusy)."""
        batch = self.current
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = Batch(self.db, loop)
            self.current = batch
            events.hold(batch.held)
            loop.call_soon(self._commit, batch)
        return batch

    def _commit(self, batch: Batch) -> None:
        self.current = None
        events.hold(None)
        published = batch.commit()
        metrics.commit_batch_units.observe(batch.units)
        if published:
            # After the callers' wake-ups, which set_result scheduled first.
            try:
                batch.loop.call_soon(events.publish_all, published)
            except RuntimeError:  # the loop is closed (a last flush at exit)
                events.publish_all(published)

    async def run(self, call: Callable[[], T]) -> T:
        """Runs one unit of work that may write, in the open batch; returns
        its outcome once the batch is durable."""
        batch = self.open()
        result = batch.run(call)
        await batch.durable()
        return result

    async def settled(self) -> None:
        """Waits until whatever the loop's connection has done so far is
        committed: at once when no batch is open."""
        if self.current is not None:
            await self.current.durable()

    def flush(self) -> None:
        """Commits the open batch now (at shutdown, and before the database
        is closed), releasing its callers."""
        if self.current is not None:
            self._commit(self.current)
