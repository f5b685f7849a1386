"""Exactly-once counter changes: a change sent with a key of the client's
own (`clientMutationId` in GraphQL, `id` on the counter socket) happens
once, however often it is retried, over any transport, on any process."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from tornado.httpclient import AsyncHTTPClient

from tests.clients import bearer, sign_up

INCREMENT = """mutation Bump($name: String!, $by: Int, $key: String) {
  incrementCounter(name: $name, amount: $by, clientMutationId: $key) {
    type value previousValue timestamp metadata { operationCount }
  }
}"""
STATE = "query State($name: String!) { counter(name: $name) { value operationCount } }"


async def bump(clients, name: str, by: int, key: str | None, token: str | None = None):
    headers = bearer(token) if token else None
    return await clients.graphql(INCREMENT, {"name": name, "by": by, "key": key}, headers=headers)


@pytest.mark.gen_test
async def test_a_retried_mutation_gets_the_first_result_and_changes_nothing(clients):
    watcher = await clients.counter_socket("once")
    first = await bump(clients, "once", 5, "key-1")
    again = await bump(clients, "once", 5, "key-1")
    assert first.status == again.status == 200
    assert again.body == first.body
    assert first.body["data"]["incrementCounter"]["value"] == 5
    assert (await clients.data(STATE, {"name": "once"}))["counter"] == {
        "value": 5,
        "operationCount": 1,
    }
    # Watchers heard the change once.
    assert (await watcher.receive_type("increment"))["value"] == 5
    await watcher.nothing_more()
    # A new key is a new change.
    assert (await bump(clients, "once", 5, "key-2")).body["data"]["incrementCounter"]["value"] == 10


@pytest.mark.gen_test
async def test_the_same_key_for_a_different_change_is_refused_and_changes_nothing(clients):
    await bump(clients, "other", 1, "k")
    reply = await bump(clients, "other", 2, "k")
    (error,) = reply.body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "already used for another change" in error["message"]
    reset = await clients.graphql(
        'mutation { resetCounter(name: "other", clientMutationId: "k") { value } }'
    )
    assert reset.body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await clients.data(STATE, {"name": "other"}))["counter"]["value"] == 1


@pytest.mark.parametrize("key", ["", "x" * 101, "tab\there"])
@pytest.mark.gen_test
async def test_a_malformed_key_says_what_a_key_is(clients, key):
    reply = await bump(clients, "bad-key", 1, key)
    (error,) = reply.body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "1 to 100 printable characters" in error["message"]
    assert (await clients.data(STATE, {"name": "bad-key"}))["counter"]["value"] == 0


@pytest.mark.gen_test
async def test_keys_are_each_users_own(clients):
    ada = await sign_up(clients, "ada_once")
    bob = await sign_up(clients, "bob_once")
    for token in (ada, bob, None):
        reply = await bump(clients, "shared", 1, "same-key", token)
        assert "errors" not in reply.body, reply.body
    # Three people, three changes: nobody's key answers another's retry.
    assert (await clients.data(STATE, {"name": "shared"}))["counter"]["value"] == 3
    again = await bump(clients, "shared", 1, "same-key", bob)
    assert again.body["data"]["incrementCounter"]["value"] == 2


@pytest.mark.gen_test
async def test_the_counter_socket_answers_a_retry_with_the_first_result_and_its_id(clients):
    socket = await clients.counter_socket("sock")
    await socket.send({"type": "increment", "amount": 3, "id": "op-1"})
    first = await socket.receive_type("incrementResult")
    assert first["id"] == "op-1"
    assert first["result"]["value"] == 3
    event = await socket.receive_type("increment")
    socket.close()
    # The connection dropped before the client saw its answer: it retries
    # on a new socket, then over GraphQL.
    retry = await clients.counter_socket("sock")
    await retry.send({"type": "increment", "amount": 3, "id": "op-1"})
    again = await retry.receive_type("incrementResult")
    assert again == first
    await retry.nothing_more()  # no event: nothing changed
    reply = await bump(clients, "sock", 3, "op-1")
    answered = reply.body["data"]["incrementCounter"]
    assert (answered["value"], answered["previousValue"]) == (3, 0)
    assert answered["timestamp"] == event["timestamp"]
    assert (await clients.data(STATE, {"name": "sock"}))["counter"]["operationCount"] == 1


@pytest.mark.gen_test
async def test_the_counter_socket_names_the_refused_operation_in_its_error(clients):
    socket = await clients.counter_socket("sock-bad")
    await socket.send({"type": "setValue", "value": 4, "id": "v"})
    assert (await socket.receive_type("setValueResult"))["id"] == "v"
    await socket.send({"type": "setValue", "value": 5, "id": "v"})
    error = await socket.receive_type("error")
    assert error["id"] == "v"
    assert "already used for another change" in error["message"]
    await socket.send({"type": "reset", "id": 7})
    error = await socket.receive_type("error")
    assert "`id` must be a string" in error["message"]


@pytest.mark.gen_test(timeout=180)
async def test_two_processes_apply_each_key_once_when_every_change_is_sent_to_both(pair):
    """Each of 1,000 changes goes to both processes at once, as a client
    retrying on another node would: the counter moves 1,000 times, both
    answers to each key agree, and a watcher hears 1,000 events, in order."""
    first, second = pair
    watcher = await first.counter_socket("both")
    http = AsyncHTTPClient()
    changes = 1_000
    semaphore = asyncio.Semaphore(16)

    async def send(process, key: str) -> dict:
        body = orjson.dumps({"query": INCREMENT, "variables": {"name": "both", "key": key}})
        async with semaphore:
            response = await http.fetch(
                process.url + "/graphql",
                method="POST",
                body=body,
                headers={"Content-Type": "application/json"},
            )
        return orjson.loads(response.body)

    async def both(key: str) -> None:
        a, b = await asyncio.gather(send(first, key), send(second, key))
        assert "errors" not in a, a
        assert a == b

    await asyncio.gather(*(both(str(uuid.uuid4())) for _ in range(changes)))
    state = await first.graphql_async(STATE, {"name": "both"})
    assert state["data"]["counter"] == {"value": changes, "operationCount": changes}
    values = []
    while len(values) < changes:
        message = await watcher.receive(timeout=30)
        if message["type"] == "increment":
            values.append(message["value"])
    assert values == list(range(1, changes + 1))
    await watcher.nothing_more()
    watcher.close()
