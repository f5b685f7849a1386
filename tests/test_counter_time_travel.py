"""Counters in the past over GraphQL: `counter(name:, at:)` rebuilds one
from its operation log, `history(since:)` keeps a window of time, and bad
moments are refused in words; on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import peewee
import pytest

from app.config import Settings
from app.db import database
from tests.clients import Clients
from tests.databases import DATABASES, plan_of, settings_on

#: pytest-tornado finds `app` at run time; naming it here lets pytest see
#: that every test depends on the parametrised `settings` below.
pytestmark = pytest.mark.usefixtures("app")

AS_OF = """query($name: String!, $at: DateTime) { counter(name: $name, at: $at) {
  name value operationCount createdAt updatedAt watchers
  history(first: 10) { totalCount edges { node { type value operationNumber timestamp } } } } }"""

SINCE = """query($name: String!, $since: DateTime, $after: String, $at: DateTime) {
  counter(name: $name, at: $at) { history(first: 5, since: $since, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { value timestamp } } } } }"""


@pytest.fixture(params=DATABASES)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The in-process server, once on a SQLite file and once on PostgreSQL."""
    return settings_on(request, tmp_path)


def moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def change(clients: Clients, mutation: str) -> dict[str, Any]:
    """One change, a few milliseconds apart from the next: every operation
    gets a timestamp of its own, as changes by people do."""
    data = await clients.data(
        f"mutation {{ change: {mutation} {{ value timestamp metadata {{ createdAt }} }} }}"
    )
    await asyncio.sleep(0.03)
    return data["change"]


async def as_of(clients: Clients, name: str, at: str | None) -> dict[str, Any]:
    return (await clients.data(AS_OF, {"name": name, "at": at}))["counter"]


@pytest.mark.gen_test(timeout=30)
async def test_at_gives_the_counter_as_it_was_at_each_moment(clients):
    first = await change(clients, 'setCounterValue(name: "past", value: 5)')
    second = await change(clients, 'incrementCounter(name: "past", amount: 2)')
    third = await change(clients, 'decrementCounter(name: "past", amount: 10)')
    watcher = await clients.counter_socket("past")
    await watcher.watchers(1)

    before = await as_of(clients, "past", iso(moment(first["timestamp"]) - timedelta(seconds=1)))
    assert before == {
        "name": "past",
        "value": 0,
        "operationCount": 0,
        "createdAt": None,
        "updatedAt": None,
        "watchers": 1,  # the live number, whatever the moment
        "history": {"totalCount": 0, "edges": []},
    }

    at_first = await as_of(clients, "past", first["timestamp"])
    assert (at_first["value"], at_first["operationCount"]) == (5, 1)
    assert at_first["createdAt"] == first["metadata"]["createdAt"]
    assert at_first["updatedAt"] == first["timestamp"]
    assert at_first["history"]["totalCount"] == 1
    assert [e["node"]["value"] for e in at_first["history"]["edges"]] == [5]

    between = (
        moment(second["timestamp"]) + (moment(third["timestamp"]) - moment(second["timestamp"])) / 2
    )
    in_between = await as_of(clients, "past", iso(between))
    assert (in_between["value"], in_between["operationCount"]) == (7, 2)
    assert in_between["updatedAt"] == second["timestamp"]
    assert in_between["history"]["totalCount"] == 2
    assert [
        (e["node"]["type"], e["node"]["value"], e["node"]["operationNumber"])
        for e in in_between["history"]["edges"]
    ] == [("increment", 7, 2), ("setValue", 5, 1)]

    at_third = await as_of(clients, "past", third["timestamp"])
    assert (at_third["value"], at_third["operationCount"]) == (-3, 3)
    assert at_third["updatedAt"] == third["timestamp"]

    # A moment to come: the counter as it is now, later changes included.
    fourth = await change(clients, 'incrementCounter(name: "past")')
    tomorrow = iso(datetime.now(UTC) + timedelta(days=1))
    future = await as_of(clients, "past", tomorrow)
    assert future == await as_of(clients, "past", None)
    assert (future["value"], future["operationCount"]) == (-2, 4)
    assert future["updatedAt"] == fourth["timestamp"]
    assert future["history"]["totalCount"] == 4
    watcher.close()


@pytest.mark.gen_test
async def test_at_on_a_counter_never_changed_gives_it_at_zero(clients):
    counter = await as_of(clients, "never-changed", "2020-01-01T00:00:00.000Z")
    assert counter["value"] == 0
    assert counter["operationCount"] == 0
    assert counter["createdAt"] is None
    assert counter["history"] == {"totalCount": 0, "edges": []}
    # Reading the past stores nothing.
    stored = await clients.data("{ counters { totalCount } }")
    assert stored["counters"]["totalCount"] == 0


async def pages(clients: Clients, variables: dict[str, Any]) -> tuple[list[int], set[int], int]:
    """Every page of a window: (values in order, totalCounts seen, pages)."""
    values: list[int] = []
    totals: set[int] = set()
    after = None
    count = 0
    while True:
        data = await clients.data(SINCE, {**variables, "after": after})
        history = data["counter"]["history"]
        totals.add(history["totalCount"])
        values += [edge["node"]["value"] for edge in history["edges"]]
        count += 1
        if not history["pageInfo"]["hasNextPage"]:
            return values, totals, count
        after = history["pageInfo"]["endCursor"]


@pytest.mark.gen_test(timeout=30)
async def test_history_since_keeps_the_operations_from_that_moment_and_pages(clients):
    for _ in range(4):
        await clients.data('mutation { incrementCounter(name: "window") { value } }')
    await asyncio.sleep(0.03)
    start = await change(clients, 'incrementCounter(name: "window")')  # the 5th
    for _ in range(11):
        await clients.data('mutation { incrementCounter(name: "window") { value } }')

    # Exactly at an operation's timestamp keeps that operation.
    values, totals, count = await pages(clients, {"name": "window", "since": start["timestamp"]})
    assert values == list(range(16, 4, -1))
    assert totals == {12}
    assert count == 3

    # With `at` as well: the operations between the two moments.
    at = iso(moment(start["timestamp"]) + timedelta(milliseconds=1))
    between = await clients.data(
        SINCE, {"name": "window", "since": start["timestamp"], "at": at, "after": None}
    )
    history = between["counter"]["history"]
    assert history["totalCount"] == 1
    assert [edge["node"]["value"] for edge in history["edges"]] == [5]

    # A moment after the last operation keeps none.
    later = iso(datetime.now(UTC) + timedelta(minutes=1))
    assert await pages(clients, {"name": "window", "since": later}) == ([], {0}, 1)


TIME_INDEX = "counter_operation_counter_id_timestamp_id"


@pytest.mark.gen_test(timeout=30)
async def test_the_past_is_read_through_the_time_index(clients, caplog):
    """A counter at a moment is one step down the operations' time index
    (no sort), and a window of history a range of it: none of them walks
    back through the counter's whole log."""
    for _ in range(3):
        await clients.data('mutation { incrementCounter(name: "indexed") { value } }')
    at = iso(datetime.now(UTC) - timedelta(milliseconds=1))
    since = iso(datetime.now(UTC) - timedelta(hours=1))
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        await clients.data(SINCE, {"name": "indexed", "at": at, "since": since, "after": None})
    reads = [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, tuple) and '"counter_operation"' in record.msg[0]
    ]
    assert len(reads) == 3, reads  # the counter then, a page of the window, its count
    plans = [plan_of(sql, params) for sql, params in reads]
    postgres = isinstance(database.obj, peewee.PostgresqlDatabase)
    for number, plan in enumerate(plans):
        assert "Seq Scan" not in plan, plan
        assert "SCAN t1" not in plan, plan
        if postgres and number > 0:
            # A page newest first may also walk (counter, id) back to its
            # LIMIT, filtering by time: PostgreSQL picks by its statistics,
            # and either stops at the page's end.
            assert TIME_INDEX in plan or "counteroperation_counter_id_id" in plan, plan
        else:
            assert TIME_INDEX in plan, plan
    assert "Sort" not in plans[0], plans[0]
    assert "TEMP B-TREE" not in plans[0], plans[0]


BAD_INPUT = {
    "a DateTime in words, as a variable": (
        'query($at: DateTime) { counter(name: "bad", at: $at) { value } }',
        {"at": "yesterday"},
        "DateTime must be an ISO-8601 string such as",
    ),
    "a DateTime in words, in the document": (
        '{ counter(name: "bad", at: "yesterday") { value } }',
        None,
        "got 'yesterday'",
    ),
    "a number for a DateTime": (
        '{ counter(name: "bad") { history(since: 1700000000) { totalCount } } }',
        None,
        "got 1700000000",
    ),
    "a malformed since": (
        'query($s: DateTime) { counter(name: "bad") { history(since: $s) { totalCount } } }',
        {"s": "2025-13-45T00:00:00Z"},
        "'2025-13-45T00:00:00Z'",
    ),
    "first out of range with since": (
        '{ counter(name: "bad") { history(first: 101, since: "2025-01-01T00:00:00Z") { totalCount } } }',
        None,
        "`first` must be from 0 to 100; got 101",
    ),
    "a bad name at a moment": (
        '{ counter(name: "not a name", at: "2025-01-01T00:00:00Z") { value } }',
        None,
        "A counter name is 1 to 64 characters",
    ),
}


@pytest.mark.parametrize(("query", "variables", "says"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
@pytest.mark.gen_test
async def test_bad_moments_and_pages_are_refused_saying_what_was_wrong(
    clients, query, variables, says
):
    reply = await clients.graphql(query, variables)
    assert reply.status in (200, 400), reply.body
    error = reply.body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", reply.body
    assert says in error["message"], error["message"]
    assert "Traceback" not in str(reply.body)
