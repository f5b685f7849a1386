"""Compiled plans (app.api.plan): a cached document run again and again,
with other variables, another operation or another viewer, answers each
time as graphql-core itself would answer that request alone.

Expected errors are graphql-core's own: the same document run through
`graphql.execute` in this process (never a mutation, which would change
what the server then reads), formatted as the server formats them."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import execute, parse

from app.api.errors import BAD_USER_INPUT, INTERNAL_SERVER_ERROR, format_error
from app.api.resolvers.base import Context, resolve_field
from tests.clients import bearer, open_graphql_socket, sign_up
from tests.waiting import until

#: Two operations and a fragment in one document, so every request below
#: reuses the one cached parse.
DOCUMENT = """
query Read($n: String!) { counter(name: $n) { ...Value } }
mutation Add($n: String!, $k: Int) { incrementCounter(name: $n, amount: $k) { value } }
query Me { viewer { username } }
fragment Value on Counter { name value }
"""


def graphql_core_errors(app: Any, query: str, variables: dict[str, Any], name: str) -> list[Any]:
    """What graphql-core answers for a query with these variables, alone."""
    result = execute(
        app.settings["services"].executor.schema,
        parse(query),
        context_value=Context(),
        variable_values=variables,
        operation_name=name,
        field_resolver=resolve_field,
    )
    assert result.errors, result
    default = BAD_USER_INPUT if result.data is None else INTERNAL_SERVER_ERROR
    return [format_error(error, default) for error in result.errors]


@pytest.mark.gen_test
async def test_one_cached_document_answers_each_operation_and_variables_apart(clients, app):
    async def run(name: str, variables: dict[str, Any], token: str | None = None) -> Any:
        headers = bearer(token) if token else None
        reply = await clients.graphql(DOCUMENT, variables, headers=headers, operationName=name)
        return reply.status, reply.body

    assert await run("Add", {"n": "p", "k": 2}) == (
        200,
        {"data": {"incrementCounter": {"value": 2}}},
    )
    assert await run("Add", {"n": "p"}) == (200, {"data": {"incrementCounter": {"value": 3}}})
    assert await run("Read", {"n": "p"}) == (200, {"data": {"counter": {"name": "p", "value": 3}}})
    assert await run("Read", {"n": "q"}) == (200, {"data": {"counter": {"name": "q", "value": 0}}})
    assert await run("Add", {"n": "q", "k": -1}) == (
        200,
        {"data": {"incrementCounter": {"value": -1}}},
    )

    # Variables that do not fit: graphql-core's coercion errors, no data.
    for name, variables in (
        ("Add", {"n": "p", "k": "two"}),
        ("Read", {}),
        ("Read", {"n": 5}),
        ("Add", {"n": None, "k": 2**40}),
    ):
        status, body = await run(name, variables)
        assert status == 400
        # The same document, read-only (and its columns kept): nothing changes.
        read_only = DOCUMENT.replace("mutation Add", "query    Add")
        assert body == {"errors": graphql_core_errors(app, read_only, variables, name)}

    # A field error: the path, locations and code of graphql-core's answer.
    status, body = await run("Read", {"n": ""})
    assert status == 200
    expected = graphql_core_errors(app, DOCUMENT, {"n": ""}, "Read")
    assert body == {"errors": expected, "data": None}
    assert body["errors"][0]["path"] == ["counter"]
    assert body["errors"][0]["extensions"]["code"] == BAD_USER_INPUT

    # Nothing above changed the counters beyond what each Add said.
    assert await run("Read", {"n": "p"}) == (200, {"data": {"counter": {"name": "p", "value": 3}}})


@pytest.mark.gen_test
async def test_variables_given_omitted_defaulted_or_null_each_count_as_graphql_says(clients):
    query = (
        "mutation($n: String!, $k: Int = 5) { incrementCounter(name: $n, amount: $k) { value } }"
    )
    values = []
    for variables in ({"n": "v", "k": 2}, {"n": "v"}, {"n": "v", "k": None}, {"n": "v", "k": 3}):
        values.append((await clients.data(query, variables))["incrementCounter"]["value"])
    # 2, then the default 5, then null (the field's own default, 1), then 3.
    assert values == [2, 7, 8, 11]


@pytest.mark.gen_test
async def test_one_cached_document_answers_each_viewer_as_themselves(clients):
    ada, bob = await sign_up(clients, "ada"), await sign_up(clients, "bob")
    answers = []
    for token in (ada, None, bob, ada, None):
        headers = bearer(token) if token else None
        reply = await clients.graphql(DOCUMENT, {}, headers=headers, operationName="Me")
        answers.append(reply.body)
    assert answers == [
        {"data": {"viewer": {"username": "ada"}}},
        {"data": {"viewer": None}},
        {"data": {"viewer": {"username": "bob"}}},
        {"data": {"viewer": {"username": "ada"}}},
        {"data": {"viewer": None}},
    ]


@pytest.mark.gen_test
async def test_fields_chosen_by_variables_follow_each_request(clients):
    query = """query($n: String!, $full: Boolean!) {
      counter(name: $n) { value name @include(if: $full) ... @skip(if: $full) { id } }
    }"""
    full = await clients.data(query, {"n": "d", "full": True})
    short = await clients.data(query, {"n": "d", "full": False})
    assert full == {"counter": {"value": 0, "name": "d"}}
    assert set(short["counter"]) == {"value", "id"}
    assert await clients.data(query, {"n": "d", "full": True}) == full


@pytest.mark.gen_test
async def test_one_document_over_objects_of_different_types(clients):
    """The shared memo of collected fields is per object type: a node that
    is a counter, then one that is a user, each get their own fields."""
    ada = await sign_up(clients, "ada")
    viewer = await clients.data("{ viewer { id } }", token=ada)
    counter = await clients.data('{ counter(name: "n") { id } }')
    query = """query($id: ID!) {
      node(id: $id) { __typename ... on Counter { name } ... on User { username } }
    }"""
    ids = (counter["counter"]["id"], viewer["viewer"]["id"], counter["counter"]["id"])
    answers = [(await clients.data(query, {"id": id_}, token=ada))["node"] for id_ in ids]
    assert answers == [
        {"__typename": "Counter", "name": "n"},
        {"__typename": "User", "username": "ada"},
        {"__typename": "Counter", "name": "n"},
    ]


@pytest.mark.gen_test
async def test_an_unknown_operation_name_is_refused_and_not_kept(clients, app):
    documents = app.settings["services"].executor.documents
    for name in ("Nope", "Other", "Read"):
        reply = await clients.graphql(DOCUMENT, {"n": "x"}, operationName=name)
        if name == "Read":
            assert reply.body == {"data": {"counter": {"name": "x", "value": 0}}}
        else:
            assert reply.status == 400
            assert reply.body["errors"][0]["message"] == f"Unknown operation named {name!r}."
    (compiled,) = [entry for entry, _size in documents._entries.values()]
    assert set(compiled.plans) == {"Read"}


@pytest.mark.gen_test
async def test_a_large_document_collects_afresh_and_still_answers_right(clients, app):
    """Past MAX_SHARED_TOKENS a plan keeps no collected fields."""
    from app.api.document_cache import tokens_in
    from app.api.plan import MAX_SHARED_TOKENS

    fields = " ".join(f"a{i}: counter(name: $n) {{ value }}" for i in range(260))
    query = f"query($n: String!) {{ {fields} }}"
    await clients.data('mutation { incrementCounter(name: "big", amount: 4) { value } }')
    for name, value in (("big", 4), ("small", 0), ("big", 4)):
        data = await clients.data(query, {"n": name})
        assert data == {f"a{i}": {"value": value} for i in range(260)}
    entries = app.settings["services"].executor.documents._entries
    compiled = entries[query][0]
    assert tokens_in(compiled.document) > MAX_SHARED_TOKENS
    assert not compiled.static
    assert compiled.plans[None].sub_fields is None


@pytest.mark.parametrize(
    "query",
    [
        "subscription($n: String!) { counter(name: $n) { type value actor { username } } }",
        # A directive: each event collects its fields afresh.
        "subscription($n: String!, $f: Boolean!) "
        "{ counter(name: $n) { value actor @include(if: $f) { username } } }",
    ],
)
@pytest.mark.gen_test
async def test_a_subscription_keeps_no_more_per_event_than_at_its_first(clients, app, query):
    """Each event's execution once left its collected fields in the
    group's executor for the subscription's life: memory grew per event."""
    socket = await open_graphql_socket(clients)
    await socket.init()
    await socket.subscribe("s", query, {"n": "grow", "f": True})
    await until(lambda: app.settings["services"].live.groups, "the subscription's group")
    (group,) = app.settings["services"].live.groups.values()

    async def one_event(value: int) -> int:
        await clients.data('mutation { incrementCounter(name: "grow") { value } }')
        payload = await socket.next_payload("s")
        assert payload["data"]["counter"]["value"] == value
        return len(group.built._relevant_sub_fields)

    after_first = await one_event(1)
    kept = [await one_event(value) for value in range(2, 12)]
    assert kept == [after_first] * 10
