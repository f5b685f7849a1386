"""Two server processes on one PostgreSQL and one Redis behave as one."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from playhouse.migrations import Runner
from tornado.websocket import websocket_connect

from app import db
from app.config import PROJECT_ROOT
from tests.cluster import SECRET, Process, wait_connected
from tests.documents import LIBRARY_SUBSCRIPTION


async def graphql_socket(process: Process, token: str | None = None):
    socket = await websocket_connect(process.ws + "/graphql", subprotocols=["graphql-transport-ws"])
    await socket.write_message(
        json.dumps({"type": "connection_init", "payload": {"token": token} if token else {}})
    )
    assert json.loads(await socket.read_message())["type"] == "connection_ack"
    return socket


async def next_frame(socket) -> dict:
    """The next counter-socket frame, past presence notices."""
    while True:
        message = json.loads(await asyncio.wait_for(socket.read_message(), 10))
        if message["type"] != "presence":
            return message


async def next_data(socket, op_id: str) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(socket.read_message(), 10))
        if message.get("id") == op_id and message["type"] == "next":
            return message["payload"]["data"]


@pytest.mark.gen_test(timeout=60)
async def test_sockets_on_a_hear_changes_made_through_b(pair):
    a, b = pair
    token = (
        await asyncio.to_thread(
            b.graphql,
            'mutation { signUp(username: "spread", password: "correct horse") { token } }',
        )
    )["data"]["signUp"]["token"]
    plain = await websocket_connect(a.ws + "/ws/counter/shared")
    assert json.loads(await plain.read_message())["type"] == "snapshot"
    socket = await graphql_socket(a, token)
    await socket.write_message(
        json.dumps(
            {
                "id": "c",
                "type": "subscribe",
                "payload": {
                    "query": 'subscription { counter(name: "shared") { value actor { username } } }'
                },
            }
        )
    )
    await socket.write_message(
        json.dumps({"id": "l", "type": "subscribe", "payload": {"query": LIBRARY_SUBSCRIPTION}})
    )
    await asyncio.sleep(0.3)

    await asyncio.to_thread(
        b.graphql, 'mutation { incrementCounter(name: "shared", amount: 3) { value } }', None, token
    )
    event = await next_frame(plain)
    assert (event["type"], event["value"], event["actor"]["username"]) == ("increment", 3, "spread")
    assert (await next_data(socket, "c")) == {
        "counter": {"value": 3, "actor": {"username": "spread"}}
    }

    await asyncio.to_thread(
        b.graphql,
        'mutation { createStory(url: "https://example.com/x", title: "From B") { id } }',
        None,
        token,
    )
    created = await next_data(socket, "l")
    assert created["channel"]["type"] == "story:create"
    assert created["channel"]["story"]["title"] == "From B"
    assert (await next_data(socket, "l"))["channel"] == {
        "type": "library:change",
        "totalStories": 1,
        "totalTags": 0,
    }
    plain.close()
    socket.close()


def test_400_increments_spread_over_both_processes_count_exactly_400(pair):
    a, b = pair
    query = 'mutation { incrementCounter(name: "split") { value } }'
    with ThreadPoolExecutor(max_workers=8) as pool:
        values = list(
            pool.map(
                lambda n: (a if n % 2 else b).graphql(query)["data"]["incrementCounter"]["value"],
                range(400),
            )
        )
    assert sorted(values) == list(range(1, 401))
    data = a.graphql(
        '{ counter(name: "split") { value operationCount history(first: 1) { totalCount } } }'
    )["data"]["counter"]
    assert data == {"value": 400, "operationCount": 400, "history": {"totalCount": 400}}


@pytest.mark.gen_test(timeout=90)
async def test_delivery_resumes_after_redis_restarts(tmp_path, postgres, private_redis):
    redis_server = private_redis
    database = postgres.create_database(f"t_{uuid.uuid4().hex[:10]}")
    a = Process(tmp_path / "a", database, redis_server.url)
    b = Process(tmp_path / "b", database, redis_server.url)
    try:
        for process in (a, b):
            await asyncio.to_thread(wait_connected, process)
        watcher = await websocket_connect(a.ws + "/ws/counter/resume")
        await watcher.read_message()
        await asyncio.to_thread(
            b.graphql, 'mutation { incrementCounter(name: "resume") { value } }'
        )
        assert (await next_frame(watcher))["value"] == 1

        redis_server.stop()
        for process in (a, b):
            for _ in range(100):
                if (await asyncio.to_thread(process.healthy))["status"] == "degraded":
                    break
                await asyncio.sleep(0.1)
            assert (await asyncio.to_thread(process.healthy)) == {
                "status": "degraded",
                "redis": "unavailable",
            }
        # Still serving HTTP, and A's own changes still reach A's sockets.
        await asyncio.to_thread(
            a.graphql, 'mutation { incrementCounter(name: "resume") { value } }'
        )
        assert (await next_frame(watcher))["value"] == 2

        redis_server.start()
        for process in (a, b):
            await asyncio.to_thread(wait_connected, process, 30)
        await asyncio.to_thread(
            b.graphql, 'mutation { incrementCounter(name: "resume") { value } }'
        )
        assert (await next_frame(watcher))["value"] == 3
        watcher.close()
    finally:
        a.stop()
        b.stop()


def test_migrations_from_an_empty_database_and_from_the_previous_version(tmp_path, postgres):
    # The previous version: everything up to the accounts, with data in it.
    old = postgres.create_database("t_previous")
    database = db.open_database(old)
    try:
        Runner(database, directory=str(db.MIGRATIONS_DIR)).up(target="0002_auth_tokens")
        database.execute_sql(
            'INSERT INTO "counter" ("name", "value", "operation_count", "created_at", "updated_at") VALUES (%s, 7, 3, now(), now())',
            ("kept",),
        )
        for previous, value in ((0, 1), (1, 5), (5, 7)):
            database.execute_sql(
                'INSERT INTO "counter_operation" ("counter_id", "type", "previous_value", "value", "timestamp") '
                "SELECT id, 'increment', %s, %s, now() FROM \"counter\" WHERE name = 'kept'",
                (previous, value),
            )
    finally:
        db.close_database()
    # Two processes starting at once: one migrates, the other waits and finds nothing to do.
    first = Process(tmp_path / "1", old, "")
    second = Process(tmp_path / "2", old, "")
    try:
        for process in (first, second):
            process.healthy()
        assert first.graphql('{ counter(name: "kept") { value } }') == {
            "data": {"counter": {"value": 7}}
        }
        assert second.graphql('{ counter(name: "kept") { operationCount } }') == {
            "data": {"counter": {"operationCount": 3}}
        }
    finally:
        outputs = [first.stop(), second.stop()]
    for name in (
        "0003_library",
        "0004_stream_history",
        "0005_operation_numbers",
        "0006_leaner_counter_indexes",
        "0007_operations_by_time",
        "0008_counter_follows",
        "0009_counter_request_keys",
        "0010_library_requests",
        "0011_request_keys_by_age",
        "0012_account_requests",
    ):
        assert sum(f"applied migration {name}" in output for output in outputs) == 1
    # The operations from before are numbered as the stream offsets they were.
    database = db.open_database(old)
    try:
        numbered = database.execute_sql(
            'SELECT "operation_number", "value" FROM "counter_operation" ORDER BY "id"'
        ).fetchall()
    finally:
        db.close_database()
    assert numbered == [(1, 1), (2, 5), (3, 7)]

    fresh = postgres.create_database("t_empty")
    result = subprocess.run(
        [sys.executable, "server.py", "migrate"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": fresh, "SECRET_KEY": SECRET},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for name in sorted(path.stem for path in db.MIGRATIONS_DIR.glob("0*.py")):
        assert name in result.stderr


@pytest.mark.gen_test(timeout=60)
async def test_changes_from_every_path_reach_a_watcher_in_commit_order(pair):
    """On PostgreSQL, writes run on each process's database thread; their
    events must still reach every watcher once, in the order committed."""
    a, b = pair
    watcher = await websocket_connect(a.ws + "/ws/counter/ordered")
    await watcher.read_message()
    writer = await websocket_connect(a.ws + "/ws/counter/ordered")
    await writer.read_message()
    query = 'mutation { incrementCounter(name: "ordered") { value } }'

    async def over_http(process: Process, times: int) -> None:
        for _ in range(times):
            await asyncio.to_thread(process.graphql, query)

    async def over_socket(times: int) -> None:
        for _ in range(times):
            await writer.write_message('{"type":"increment"}')

    async def drain_writer() -> None:
        while await writer.read_message() is not None:
            pass

    drainer = asyncio.ensure_future(drain_writer())
    await asyncio.gather(over_http(a, 60), over_http(b, 60), over_socket(60))
    values = []
    while len(values) < 180:
        message = json.loads(await asyncio.wait_for(watcher.read_message(), 10))
        if message["type"] == "increment":
            values.append(message["value"])
    assert values == list(range(1, 181))
    watcher.close()
    writer.close()
    drainer.cancel()
