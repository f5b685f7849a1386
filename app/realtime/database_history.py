"""The stream history kept in the database (the default store).

Events are written by the models, in the same transaction as their
change (app.models.stream); this reads them back for clients that resume.
On PostgreSQL the reads run on the database thread, like every query.
"""

from __future__ import annotations

from app.db import in_database_thread
from app.events import Topic
from app.models import stream
from app.realtime.history import Batch, Position


class DatabaseHistory:
    def __init__(self, epoch: str) -> None:
        self.epoch_now = epoch

    async def read(self, topic: Topic, after: int) -> Batch:
        epoch, top, events = await in_database_thread(stream.read, topic, after)
        return Batch(epoch, top, events)

    async def position(self, topic: Topic) -> Position:
        return Position(await in_database_thread(stream.latest_offset, topic), self.epoch_now)

    async def epoch(self, topic: Topic) -> str:
        return self.epoch_now
