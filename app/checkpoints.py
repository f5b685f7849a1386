"""WAL checkpoints on a thread of their own, never on the loop.

SQLite copies the WAL back into the database file (a checkpoint) by
itself inside the COMMIT that takes the WAL past 1,000 pages. Our commits
run on the event loop, so every few hundred changes one of them held every
socket of the process for 10-20 ms while the pages were copied and synced.
The loop's connection therefore has `wal_autocheckpoint=0` (app.db), and
this thread, with its own connection, runs a PASSIVE checkpoint every
`INTERVAL` seconds while the WAL file changes. PASSIVE never waits for a
lock and never blocks the writer: it copies what no reader still needs
and returns, and the writer starts the WAL over once it has all been
copied.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

#: Seconds between two looks at the WAL file.
INTERVAL = 0.25


class Checkpointer:
    """A daemon thread that checkpoints one SQLite database's WAL."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.wal = Path(f"{path}-wal")
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="checkpoints", daemon=True)
        #: Checkpoints that found frames to copy (for tests and the curious).
        self.checkpoints = 0

    def start(self) -> Checkpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        last: tuple[int, int] | None = None
        connection: sqlite3.Connection | None = None
        try:
            while not self._stopped.wait(INTERVAL):
                try:
                    stat = self.wal.stat()
                except FileNotFoundError:
                    continue
                seen = (stat.st_mtime_ns, stat.st_size)
                if seen == last:
                    continue
                last = seen
                if connection is None:
                    try:
                        connection = sqlite3.connect(self.path, timeout=0)
                    except sqlite3.Error as error:  # out of file descriptors, say
                        log.debug("no connection for checkpoints yet: %s", error)
                        last = None
                        continue
                self.checkpoint(connection)
        finally:
            if connection is not None:
                connection.close()

    def checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            _, _, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as error:
            # Busy (another checkpoint runs) or the disk is full: the next
            # look tries again; the WAL keeps every change meanwhile.
            log.debug("checkpoint of %s skipped: %s", self.path, error)
            return
        if copied > 0:
            self.checkpoints += 1
