"""The window of exactly-once changes: a request key answers its retries
for REQUEST_KEY_WINDOW seconds from the change it first made, then is
forgotten (a retry with it is a new change), and the periodic prune clears
forgotten keys from the database; counters and the library, on SQLite and
on PostgreSQL alike. The window here is short, so each test waits it out."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.db import database
from tests.clients import Clients, bearer, sign_up
from tests.databases import DATABASES, plan_of, settings_on
from tests.waiting import until

#: pytest-tornado finds `app` at run time; naming it here lets pytest see
#: that every test depends on the parametrised `settings` below.
pytestmark = pytest.mark.usefixtures("app")

#: Seconds a key is remembered in these tests.
WINDOW = 1.5
#: Past the window, with a margin for timestamps kept to the millisecond.
PAST_WINDOW = WINDOW + 0.05

INCREMENT = """mutation($name: String!, $by: Int, $key: String) {
  incrementCounter(name: $name, amount: $by, clientMutationId: $key) { value previousValue timestamp }
}"""
STATE = """query($name: String!) { counter(name: $name) {
  value operationCount history(first: 10) { edges { node { value operationNumber } } } } }"""
CREATE = """mutation($url: String!, $key: String) {
  createStory(url: $url, title: "Kept", clientMutationId: $key) { id }
}"""
STORIES = "{ library { stories(first: 10) { totalCount edges { node { id } } } } }"
FOLLOW = """mutation($name: String!, $key: String) {
  followCounter(name: $name, clientMutationId: $key) { name }
}"""
UNFOLLOW = """mutation($name: String!, $key: String) {
  unfollowCounter(name: $name, clientMutationId: $key) { name }
}"""
FOLLOWING = "{ following { edges { node { name } } } }"


@pytest.fixture
def prune_every() -> float:
    """Seconds between prunes: an hour, so that a test sees a forgotten key
    the prune has not reached yet, unless it asks for more often."""
    return 3600.0


@pytest.fixture(params=DATABASES)
def settings(request: pytest.FixtureRequest, tmp_path: Path, prune_every: float) -> Settings:
    return replace(
        settings_on(request, tmp_path),
        request_key_window=WINDOW,
        request_key_prune_every=prune_every,
    )


async def bump(clients: Clients, name: str, by: int, key: str) -> dict[str, Any]:
    return await clients.data(INCREMENT, {"name": name, "by": by, "key": key})


def counter_keys() -> list[tuple[int, str | None]]:
    """(operation number, stored request key) of every counter operation."""
    return database.execute_sql(
        'SELECT "operation_number", "request_key" FROM "counter_operation" ORDER BY "id"'
    ).fetchall()


def library_keys() -> list[str]:
    return [
        key
        for (key,) in database.execute_sql(
            'SELECT "key" FROM "library_request" ORDER BY "id"'
        ).fetchall()
    ]


@pytest.mark.gen_test(timeout=30)
async def test_a_counter_key_answers_within_the_window_and_is_a_new_change_after(clients):
    first = await bump(clients, "win", 5, "k")
    again = await bump(clients, "win", 5, "k")
    assert again == first
    assert first["incrementCounter"]["value"] == 5
    state = (await clients.data(STATE, {"name": "win"}))["counter"]
    assert (state["value"], state["operationCount"]) == (5, 1)

    await asyncio.sleep(PAST_WINDOW)
    # Forgotten: the same key, even for another change, is applied.
    later = (await bump(clients, "win", 2, "k"))["incrementCounter"]
    assert (later["value"], later["previousValue"]) == (7, 5)
    # The key now names the new change, and answers its retries.
    assert (await bump(clients, "win", 2, "k"))["incrementCounter"] == later
    state = (await clients.data(STATE, {"name": "win"}))["counter"]
    assert (state["value"], state["operationCount"]) == (7, 2)
    # The first operation gave its key up and kept its place in the log.
    assert counter_keys() == [(1, None), (2, "-:k")]
    history = [edge["node"] for edge in state["history"]["edges"]]
    assert history == [{"value": 7, "operationNumber": 2}, {"value": 5, "operationNumber": 1}]


@pytest.mark.gen_test(timeout=30)
async def test_a_library_key_answers_within_the_window_and_is_a_new_change_after(clients):
    token = await sign_up(clients, "window_ada")
    auth = bearer(token)
    variables = {"url": "https://example.com/w", "key": "s"}
    first = await clients.graphql(CREATE, variables, headers=auth)
    again = await clients.graphql(CREATE, variables, headers=auth)
    assert "errors" not in first.body, first.body
    assert again.body == first.body
    assert (await clients.data(STORIES, token=token))["library"]["stories"]["totalCount"] == 1

    await asyncio.sleep(PAST_WINDOW)
    other = {"url": "https://example.com/other", "key": "s"}
    later = await clients.graphql(CREATE, other, headers=auth)
    assert "errors" not in later.body, later.body  # not "already used": forgotten
    made = later.body["data"]["createStory"]["id"]
    assert made != first.body["data"]["createStory"]["id"]
    retried = await clients.graphql(CREATE, other, headers=auth)
    assert retried.body == later.body
    stories = (await clients.data(STORIES, token=token))["library"]["stories"]
    assert stories["totalCount"] == 2
    assert library_keys() == ["s"]


def account_keys() -> list[str]:
    return [
        key
        for (key,) in database.execute_sql(
            'SELECT "key" FROM "account_request" ORDER BY "id"'
        ).fetchall()
    ]


async def following(clients: Clients, token: str) -> list[str]:
    data = await clients.data(FOLLOWING, token=token)
    return [edge["node"]["name"] for edge in data["following"]["edges"]]


@pytest.mark.gen_test(timeout=30)
async def test_an_account_key_answers_within_the_window_and_is_a_new_change_after(clients):
    token = await sign_up(clients, "window_fan")
    auth = bearer(token)
    await clients.data(FOLLOW, {"name": "watched", "key": "f"}, token=token)
    await clients.data(UNFOLLOW, {"name": "watched", "key": "u"}, token=token)
    # Within the window, the follow's retry changes nothing (no follow again) ...
    retried = await clients.graphql(FOLLOW, {"name": "watched", "key": "f"}, headers=auth)
    assert retried.body == {"data": {"followCounter": {"name": "watched"}}}
    assert await following(clients, token) == []
    # ... and its key is not another change's.
    reused = await clients.graphql(UNFOLLOW, {"name": "watched", "key": "f"}, headers=auth)
    assert reused.body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    await asyncio.sleep(PAST_WINDOW)
    # Forgotten: the same key is a new change, applied.
    await clients.data(FOLLOW, {"name": "watched", "key": "f"}, token=token)
    assert await following(clients, token) == ["watched"]
    await clients.data(FOLLOW, {"name": "other", "key": "u"}, token=token)
    assert sorted(await following(clients, token)) == ["other", "watched"]
    assert sorted(account_keys()) == ["f", "u"]


@pytest.mark.parametrize("prune_every", [0.1])
@pytest.mark.gen_test(timeout=30)
async def test_the_prune_clears_forgotten_keys_along_their_indexes(clients, caplog):
    token = await sign_up(clients, "window_pruned")
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        await bump(clients, "pruned", 1, "old")
        await clients.data(CREATE, {"url": "https://example.com/old", "key": "old"}, token=token)
        await clients.data(FOLLOW, {"name": "pruned", "key": "old"}, token=token)
        await asyncio.sleep(PAST_WINDOW)
        await bump(clients, "pruned", 1, "new")
        await clients.data(CREATE, {"url": "https://example.com/new", "key": "new"}, token=token)
        await clients.data(FOLLOW, {"name": "pruned-too", "key": "new"}, token=token)
        await until(lambda: library_keys() == ["new"], "the old library key pruned")
        await until(lambda: account_keys() == ["new"], "the old account key pruned")
        await until(
            lambda: [key for _, key in counter_keys()] == [None, "-:new"],
            "the old counter key cleared",
        )
    # The operation whose key went is still there, and so are both stories.
    assert (await clients.data(STATE, {"name": "pruned"}))["counter"]["operationCount"] == 2
    assert (await clients.data(STORIES, token=token))["library"]["stories"]["totalCount"] == 2

    # Each prune is a step along its index, not a walk through every key.
    statements = [record.msg for record in caplog.records if isinstance(record.msg, tuple)]
    for table, index in PRUNE_INDEXES.items():
        prunes = [
            (sql, params)
            for sql, params in statements
            if sql.startswith(("UPDATE", "DELETE")) and table in sql and "LIMIT" in sql
        ]
        assert prunes, f"no prune of {table} seen"
        plan = plan_of(*prunes[0])
        assert index in plan, plan
        assert "Seq Scan" not in plan, plan


#: The table each prune changes, and the index it must find its rows by.
PRUNE_INDEXES = {
    '"counter_operation"': "counter_operation_keyed_timestamp",
    '"library_request"': "library_request_created_at",
    '"account_request"': "accountrequest_created_at",
}
