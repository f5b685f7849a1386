"""Two or more real server processes on one PostgreSQL and one Redis: the
shape of a scaled-out deployment, for the tests of behaviour across
processes (events, presence, recovery)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tornado.websocket import websocket_connect

from tests.clients import CounterSocket, GraphQLSocket
from tests.processes import ServerProcess
from tests.services import Postgres, Redis

SECRET = "scale-out-test-secret-" + "k" * 30


class Process(ServerProcess):
    """One `server.py` process of a deployment, started at once (not waited
    for: several start side by side), and clients of it."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        redis_url: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        settings = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": SECRET}
        super().__init__(data_dir, {**settings, **(env or {})})
        self.spawn()

    def healthy(self) -> dict:
        self.wait_healthy()
        with urllib.request.urlopen(self.url + "/healthz", timeout=5) as response:
            return json.loads(response.read())

    async def graphql_async(
        self, query: str, variables: dict | None = None, token: str | None = None
    ) -> dict:
        return await asyncio.to_thread(self.graphql, query, variables, token)

    async def counter_socket(self, name: str, token: str | None = None) -> CounterSocket:
        """A counter socket past its snapshot (kept in `.snapshot`)."""
        url = f"{self.ws}/ws/counter/{name}" + (f"?token={token}" if token else "")
        socket = CounterSocket(await websocket_connect(url))
        snapshot = await socket.receive()
        assert snapshot["type"] == "snapshot", snapshot
        socket.snapshot = snapshot  # type: ignore[attr-defined]
        return socket

    async def graphql_socket(self, token: str | None = None) -> GraphQLSocket:
        """A graphql-transport-ws socket, acknowledged."""
        socket = GraphQLSocket(
            await websocket_connect(f"{self.ws}/graphql", subprotocols=["graphql-transport-ws"])
        )
        await socket.init({"token": token} if token else None)
        return socket


def wait_connected(process: Process, timeout: float = 15) -> None:
    """Waits until the process reports its Redis connection healthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.healthy()["status"] == "ok":
            return
        time.sleep(0.1)
    raise AssertionError(f"{process.url} did not reach Redis")


def flush(redis: Redis) -> None:
    """Empties Redis, so that no test sees another's history or presence."""
    with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as connection:
        connection.sendall(b"FLUSHALL\r\n")
        assert connection.recv(16).startswith(b"+OK")


@contextmanager
def running_pair(
    data_dir: Path, postgres: Postgres, redis: Redis, env: Mapping[str, str] | None = None
) -> Iterator[tuple[Process, Process]]:
    """Two processes on a fresh database and an emptied Redis."""
    flush(redis)
    database = postgres.create_database(f"t_{uuid.uuid4().hex[:10]}")
    a = Process(data_dir / "a", database, redis.url, env)
    b = Process(data_dir / "b", database, redis.url, env)
    try:
        for process in (a, b):
            wait_connected(process)
        yield a, b
    finally:
        a.stop()
        b.stop()


async def lose_an_event(redis: Redis, processes: tuple[Process, ...], change: str) -> None:
    """Makes a hole in a stream for the other processes' subscribers: with
    Redis stopped, `change` (a mutation) is made on the first process and
    reaches only that process's sockets; then Redis comes back."""
    redis.stop()
    reply = await processes[0].graphql_async(change)
    assert "errors" not in reply, reply
    redis.start()
    for process in processes:
        await asyncio.to_thread(wait_connected, process, 30)


async def wait_watchers(process: Process, counter: str, expected: int, timeout: float = 10) -> None:
    """Waits until `counter` has `expected` watchers (running subscriptions
    count): a subscription is in place once it is counted."""
    deadline = time.monotonic() + timeout
    query = "query($n: String!) { counter(name: $n) { watchers } }"
    while True:
        reply = await process.graphql_async(query, {"n": counter})
        if reply["data"]["counter"]["watchers"] == expected:
            return
        assert time.monotonic() < deadline, f"{counter} never had {expected} watchers: {reply}"
        await asyncio.sleep(0.05)
