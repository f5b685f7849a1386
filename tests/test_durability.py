"""Nothing acknowledged is lost; nothing rolled back is published."""

from __future__ import annotations

import signal
import threading

import peewee
import pytest

from app.models.counter import Counter
from app.models.user import User
from tests.clients import sign_up
from tests.processes import ServerProcess, post_graphql


def test_every_acknowledged_increment_survives_kill_9(tmp_path):
    server = ServerProcess(tmp_path).start()
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
