"""The prune of request keys past their window (app.models.request_keys):
every kind of key, cleared from the counter log (the operations stay) and
deleted from the library's and the accounts' tables, so that their storage
holds about one window's keys.

A batch per transaction, in the batches of changes (app.db.in_write_batch),
until a batch comes back short; every process prunes (app.application
schedules it), and a row two of them go for is simply pruned once.
"""

from __future__ import annotations

from datetime import datetime

from app import db
from app.models import account_requests, library_requests, request_keys
from app.models.counter import CounterOperation

#: Keys cleared or deleted per transaction: a batch holds the loop (SQLite)
#: or the database thread for a few milliseconds (500 took 6-7 ms on
#: SQLite, commit included, from a log of 50,000).
PRUNE_BATCH = 200

#: Each kind of key's prune: (before, limit) -> how many it pruned.
FORGETTERS = (
    CounterOperation.forget_request_keys,
    library_requests.forget,
    account_requests.forget,
)


async def prune_request_keys(now: datetime) -> None:
    """Prunes every key forgotten at `now`."""
    before = request_keys.cutoff(now)
    for forget in FORGETTERS:
        while await db.in_write_batch(forget, before, PRUNE_BATCH) == PRUNE_BATCH:
            pass
