"""Nothing acknowledged is lost; nothing rolled back is published."""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack

import peewee
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.models.counter import Counter
from app.models.user import User
from tests.clients import sign_up
from tests.processes import ServerProcess, post_graphql


@pytest.mark.parametrize("synchronous", ["normal", "full"])
def test_every_acknowledged_increment_survives_kill_9(tmp_path, synchronous):
    server = ServerProcess(tmp_path, {"SQLITE_SYNCHRONOUS": synchronous}).start()
    url = server.url
    acknowledged: list[int] = []
    stopped = threading.Event()

    def increment_until_killed() -> None:
        while not stopped.is_set():
            try:
                reply = post_graphql(
                    url, 'mutation { incrementCounter(name: "durable") { value } }'
                )
            except OSError:
                return  # the server is gone
            acknowledged.append(reply["data"]["incrementCounter"]["value"])

    worker = threading.Thread(target=increment_until_killed)
    worker.start()
    while len(acknowledged) < 300:
        worker.join(0.01)
    server.process.send_signal(signal.SIGKILL)  # in the middle of the stream
    server.process.wait(10)
    stopped.set()
    worker.join(10)
    server.stop()

    with server:  # started again: the same port and data
        data = server.graphql(
            '{ counter(name: "durable") { value operationCount history(first: 1) { totalCount } } }'
        )
    counter = data["data"]["counter"]
    assert acknowledged == list(range(1, len(acknowledged) + 1))
    # Every acknowledged increment is there; at most the one in flight also is.
    assert counter["value"] in (len(acknowledged), len(acknowledged) + 1)
    assert counter["operationCount"] == counter["value"]
    assert counter["history"]["totalCount"] == counter["value"]


@pytest.mark.gen_test
async def test_a_change_that_fails_inside_its_transaction_is_never_published(clients):
    await sign_up(clients, "vanishing")
    watcher = await clients.counter_socket("rollback")
    await clients.data('mutation { incrementCounter(name: "rollback", amount: 5) { value } }')
    assert (await watcher.receive())["value"] == 5
    actor = User.by_username("vanishing")
    User.delete().where(User.id == actor.id).execute()  # gone before the history row is written
    with pytest.raises(peewee.IntegrityError):
        Counter.increment("rollback", 1, actor=actor)
    await watcher.nothing_more(0.3)
    assert Counter.lookup("rollback").value == 5
    assert Counter.lookup("rollback").operation_count == 1


#: Writers per path in the test below, each one change at a time.
WRITERS_PER_PATH = 3
#: Kills in that test: one acknowledgement sent before its commit is lost
#: to about every other kill, so five all but never miss it.
KILLS = 5


def _graphql_http_writer(
    server: ServerProcess, name: str, stack: ExitStack
) -> Callable[[], int | None]:
    def once() -> int | None:
        query = f'mutation {{ incrementCounter(name: "{name}") {{ value }} }}'
        return post_graphql(server.url, query)["data"]["incrementCounter"]["value"]

    return once


def _graphql_socket_writer(
    server: ServerProcess, name: str, stack: ExitStack
) -> Callable[[], int | None]:
    socket = stack.enter_context(
        connect(server.ws + "/graphql", subprotocols=["graphql-transport-ws"])
    )
    socket.send(json.dumps({"type": "connection_init"}))
    assert json.loads(socket.recv(timeout=5))["type"] == "connection_ack"
    ids = itertools.count()

    def once() -> int | None:
        op = str(next(ids))
        query = f'mutation {{ incrementCounter(name: "{name}") {{ value }} }}'
        socket.send(json.dumps({"id": op, "type": "subscribe", "payload": {"query": query}}))
        reply = json.loads(socket.recv(timeout=10))
        assert (reply["type"], reply["id"]) == ("next", op), reply
        assert json.loads(socket.recv(timeout=10)) == {"id": op, "type": "complete"}
        return reply["payload"]["data"]["incrementCounter"]["value"]

    return once


def _counter_socket_writer(
    server: ServerProcess, name: str, stack: ExitStack
) -> Callable[[], int | None]:
    socket = stack.enter_context(connect(f"{server.ws}/ws/counter/{name}"))
    assert json.loads(socket.recv(timeout=5))["type"] == "snapshot"

    def once() -> int | None:
        socket.send(json.dumps({"type": "increment"}))
        while True:  # past the events of everyone's changes
            reply = json.loads(socket.recv(timeout=10))
            if reply["type"] == "incrementResult":
                return reply["result"]["value"]

    return once


def _form_writer(server: ServerProcess, name: str, stack: ExitStack) -> Callable[[], int | None]:
    xsrf = "5f1d0c0ffee5f1d0c0ffee"

    def once() -> int | None:
        request = urllib.request.Request(
            f"{server.url}/counters/{name}",
            data=urllib.parse.urlencode({"_xsrf": xsrf, "op": "increment"}).encode(),
            headers={"Cookie": f"_xsrf={xsrf}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # follows the 303
            assert response.status == 200
        return None  # acknowledged, but the page does not say which value

    return once


WRITE_PATHS = {
    "graphql-http": _graphql_http_writer,
    "graphql-socket": _graphql_socket_writer,
    "counter-socket": _counter_socket_writer,
    "form": _form_writer,
}


def test_no_acknowledged_change_on_any_write_path_is_lost_to_kill_9_under_load(tmp_path):
    """Every write path at once, several writers each, so that changes
    commit in shared batches; kill -9 in mid-stream, `KILLS` times over.
    Every change any writer was told of is there after each restart,
    numbered without a gap."""
    server = ServerProcess(tmp_path)
    name = "durable-load"
    values: list[int] = []  # every value a writer was told of
    told = 0  # every acknowledged change, valued or not (the form's)
    for _ in range(KILLS):
        acknowledged = _load_until_killed(server.start(), name)
        told += sum(len(vs) for vs in acknowledged.values())
        values += [v for vs in acknowledged.values() for v in vs if v is not None]
        with server:  # started again: the same port and data
            data = server.graphql(
                f'{{ counter(name: "{name}") {{ value operationCount '
                "history(first: 1) { totalCount } } }"
            )
        counter = data["data"]["counter"]
        assert len(values) == len(set(values)), "one value acknowledged twice"
        # Every acknowledged change is there: the highest value any writer
        # was told of, and at least as many changes as were acknowledged.
        # Changes in flight at the kill (one per writer) may be there too.
        assert max(values) <= counter["value"]
        assert told <= counter["value"]
        assert counter["operationCount"] == counter["value"]
        assert counter["history"]["totalCount"] == counter["value"]
        told = counter["value"]  # what was in flight is there now, or never will be


def _load_until_killed(server: ServerProcess, name: str) -> dict[str, list[int | None]]:
    """Runs writers on every path until each path has had 150 changes
    acknowledged, then kills the server with SIGKILL; what each path was told."""
    acknowledged: dict[str, list[int | None]] = {path: [] for path in WRITE_PATHS}

    def write_until_killed(path: str, once: Callable[[], int | None]) -> None:
        while True:
            try:
                value = once()
            except (OSError, ConnectionClosed, TimeoutError, KeyError):
                return  # the server is gone (mid-reply, or refused)
            acknowledged[path].append(value)

    with ExitStack() as stack:
        stack.callback(server.stop)
        writers = [
            (path, make(server, name, stack))
            for path, make in WRITE_PATHS.items()
            for _ in range(WRITERS_PER_PATH)
        ]
        threads = [threading.Thread(target=write_until_killed, args=w) for w in writers]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while min(len(values) for values in acknowledged.values()) < 150:
            assert time.monotonic() < deadline, {p: len(v) for p, v in acknowledged.items()}
            time.sleep(0.01)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        for thread in threads:
            thread.join(15)
    return acknowledged
