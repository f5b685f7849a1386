"""Reference peer for the benchmark's compare mode: Strawberry GraphQL served by uvicorn.

It implements the counter slice of our contract (query `counter`, mutation
`incrementCounter`, subscription `counter` over graphql-transport-ws on /graphql)
the way a tuning-minded Strawberry user would write it: SQLite in WAL mode through
one stdlib connection on the event loop thread, an in-process fan-out of
asyncio.Queue per counter, Strawberry's parser and validation caches, and uvicorn
with uvloop, httptools, no access log and warnings-only logging.

Run: `python strawberry_app.py --port 8001` (database file from $PEER_DB, else a
fresh temporary file removed at exit). GET /healthz answers 200.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
from collections.abc import AsyncGenerator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import strawberry
import uvicorn
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS counter (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    value INTEGER NOT NULL DEFAULT 0,
    operation_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counter_operation (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    counter_id TEXT NOT NULL REFERENCES counter (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    amount INTEGER NOT NULL,
    previous_value INTEGER NOT NULL,
    value INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS counter_operation_counter ON counter_operation (counter_id, id);
"""

UPSERT_SQL = """
INSERT INTO counter (id, name, value, operation_count, created_at, updated_at)
VALUES (?, ?, ?, 1, ?, ?)
ON CONFLICT (name) DO UPDATE SET
    value = value + excluded.value,
    operation_count = operation_count + 1,
    updated_at = excluded.updated_at
RETURNING id, value, operation_count, created_at, updated_at
"""

HISTORY_SQL = """
INSERT INTO counter_operation (counter_id, type, amount, previous_value, value, created_at)
VALUES (?, ?, ?, ?, ?, ?)
"""

SELECT_SQL = "SELECT id, value, operation_count, created_at, updated_at FROM counter WHERE name = ?"


# --------------------------------------------------------------------- time


def utcnow() -> datetime:
    """Now in UTC, truncated to the millisecond."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def isoformat_ms(moment: datetime) -> str:
    """`2025-01-15T12:00:01.000Z`, the timestamp format of the contract."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def parse_datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def counter_id(name: str) -> str:
    """A stable Relay-style id derived from the name alone."""
    return base64.urlsafe_b64encode(f"Counter:{name}".encode()).decode()


# ------------------------------------------------------------------ schema


@strawberry.type
class Counter:
    id: strawberry.ID
    name: str
    value: int
    created_at: datetime | None
    updated_at: datetime | None
    operation_count: int


@strawberry.type
class CounterUpdateEvent:
    type: str
    value: int
    previous_value: int
    metadata: Counter
    timestamp: datetime


# ----------------------------------------------------------------- storage


class CounterStore:
    """SQLite in WAL mode through one connection, used only on the event loop thread."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.executescript(SCHEMA_SQL)

    def close(self) -> None:
        self.conn.close()

    def get(self, name: str) -> Counter:
        row = self.conn.execute(SELECT_SQL, (name,)).fetchone()
        if row is None:
            return Counter(
                id=strawberry.ID(counter_id(name)),
                name=name,
                value=0,
                created_at=None,
                updated_at=None,
                operation_count=0,
            )
        return self._counter(name, row)

    def increment(self, name: str, amount: int) -> CounterUpdateEvent:
        """Add `amount` and record the operation, in one transaction."""
        now = utcnow()
        stamp = isoformat_ms(now)
        cid = counter_id(name)
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(UPSERT_SQL, (cid, name, amount, stamp, stamp)).fetchone()
            value = row[1]
            previous = value - amount
            conn.execute(HISTORY_SQL, (row[0], "increment", amount, previous, value, stamp))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return CounterUpdateEvent(
            type="increment",
            value=value,
            previous_value=previous,
            metadata=self._counter(name, row),
            timestamp=now,
        )

    @staticmethod
    def _counter(name: str, row: tuple[str, int, int, str, str]) -> Counter:
        cid, value, operation_count, created_at, updated_at = row
        return Counter(
            id=strawberry.ID(cid),
            name=name,
            value=value,
            created_at=parse_datetime(created_at),
            updated_at=parse_datetime(updated_at),
            operation_count=operation_count,
        )


# ------------------------------------------------------------------ fan-out


class Broker:
    """In-process fan-out: counter name -> the queues of its subscribers."""

    def __init__(self) -> None:
        self.queues: dict[str, set[asyncio.Queue[CounterUpdateEvent]]] = {}

    def publish(self, name: str, event: CounterUpdateEvent) -> None:
        for queue in self.queues.get(name, ()):
            queue.put_nowait(event)

    async def listen(self, name: str) -> AsyncGenerator[CounterUpdateEvent, None]:
        queue: asyncio.Queue[CounterUpdateEvent] = asyncio.Queue()
        self.queues.setdefault(name, set()).add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            subscribers = self.queues.get(name)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self.queues[name]


@dataclass
class Services:
    store: CounterStore
    broker: Broker


def services(info: strawberry.Info) -> Services:
    result: Services = info.context["services"]
    return result


@strawberry.type
class Query:
    @strawberry.field
    def counter(self, info: strawberry.Info, name: str) -> Counter:
        return services(info).store.get(name)


@strawberry.type
class Mutation:
    @strawberry.mutation
    def increment_counter(
        self, info: strawberry.Info, name: str, amount: int | None = 1
    ) -> CounterUpdateEvent:
        svc = services(info)
        # An explicit `amount: null` means the same as leaving it out.
        event = svc.store.increment(name, 1 if amount is None else amount)
        svc.broker.publish(name, event)
        return event


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def counter(
        self, info: strawberry.Info, name: str
    ) -> AsyncGenerator[CounterUpdateEvent, None]:
        async for event in services(info).broker.listen(name):
            yield event


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description='An ISO-8601 UTC timestamp with milliseconds, e.g. "2025-01-15T12:00:01.000Z".',
    serialize=isoformat_ms,
    parse_value=parse_datetime,
)

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # Factories, as Strawberry asks: the LRU caches live at module level, shared by all requests.
    extensions=[lambda: ParserCache(maxsize=1024), lambda: ValidationCache(maxsize=1024)],
    config=StrawberryConfig(scalar_map={datetime: DateTimeScalar}),
)


class CounterGraphQL(GraphQL[dict[str, Any], None]):
    """Strawberry's ASGI view, with our services in every request's context."""

    def __init__(self, svc: Services) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            allow_queries_via_get=False,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        )
        self.svc = svc

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        return {"request": request, "response": response, "services": self.svc}


# ----------------------------------------------------------------- the app


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(db_path: str) -> ASGIApp:
    """The ASGI app: /graphql (HTTP and WebSocket), GET /healthz, and 404 elsewhere."""
    svc = Services(store=CounterStore(db_path), broker=Broker())
    graphql_app = CounterGraphQL(svc)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    svc.store.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        if path == "/graphql":
            await graphql_app(scope, receive, send)
        elif kind == "http" and path == "/healthz":
            await _plain(send, 200, b"ok")
        elif kind == "http":
            await _plain(send, 404, b"not found")
        else:
            await send({"type": "websocket.close", "code": 1008})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Strawberry + uvicorn reference peer")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()

    db_path = os.environ.get("PEER_DB")
    temp_dir = None
    if not db_path:
        temp_dir = tempfile.mkdtemp(prefix="strawberry-peer-")
        db_path = os.path.join(temp_dir, "peer.sqlite3")
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal to the
    # handler it found: make that handler exit normally so the temporary database is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    try:
        uvicorn.run(
            create_app(db_path),
            host="127.0.0.1",
            port=args.port,
            loop="uvloop",
            http="httptools",
            ws="auto",
            # Tornado, our side, does not compress WebSocket frames either.
            ws_per_message_deflate=False,
            lifespan="on",
            log_level="warning",
            access_log=False,
        )
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
