"""Hostile GraphQL: each gets a clear 4xx or GraphQL error naming what
was wrong, never a 500 or a traceback, and changes nothing."""

from __future__ import annotations

import orjson
import pytest
from graphql import get_introspection_query

from app.api.limits import MAX_BODY_BYTES, MAX_DEPTH, MAX_FIELDS, MAX_STRING, MAX_TOKENS
from tests.clients import open_graphql_socket, sign_up

GR = "application/graphql-response+json"


def deep_library_query(levels: int, first: int | None = None) -> str:
    """library → tags → Tag.stories → Story.tags → …, `levels` fields deep;
    each connection asks for `first` items (its default when None)."""
    # Each step down: (fields it opens, GraphQL type it ends on).
    path = ["library", "tags", "edges", "node"]  # now at a Tag
    at_tag = True
    while len(path) < levels - 1:
        path += ["stories", "edges", "node"] if at_tag else ["tags"]
        at_tag = not at_tag
    path = path[: levels - 1]
    # Close on a field that needs no selection, valid at wherever we stopped.
    leaf = {
        "library": "__typename",
        "tags": "__typename",
        "edges": "cursor",
        "stories": "totalCount",
        "node": "id",
    }[path[-1]]
    query = leaf
    page = f"(first: {first})" if first is not None else ""
    for index in reversed(range(len(path))):
        field = path[index]
        paged = field == "stories" or index == 1  # Library.tags; Story.tags has no pages
        query = f"{field}{page if paged else ''} {{ {query} }}"
    return "{ " + query + " }"


async def assert_refused(
    clients, query: str, variables=None, code="GRAPHQL_VALIDATION_FAILED", says=""
):
    reply = await clients.graphql(query, variables)
    assert reply.status == 400, reply.body
    assert "data" not in reply.body
    error = reply.body["errors"][0]
    assert error["extensions"]["code"] == code
    assert says in error["message"]
    assert "Traceback" not in orjson.dumps(reply.body).decode()
    return error


@pytest.mark.gen_test
async def test_a_query_nested_40_levels_deep_is_refused_naming_the_limit(clients):
    await assert_refused(clients, deep_library_query(40), says=f"the limit is {MAX_DEPTH}")


@pytest.mark.gen_test
async def test_a_query_within_the_depth_limit_runs(clients):
    token = await sign_up(clients, "shallow")
    # One item per page: deep is allowed, deep and wide is not (test_query_cost).
    data = await clients.data(deep_library_query(MAX_DEPTH, first=1), token=token)
    assert data == {"library": {"tags": {"edges": []}}}


@pytest.mark.gen_test
async def test_5000_aliases_are_refused_before_they_are_even_parsed(clients):
    aliases = " ".join(f'a{n}: counter(name: "x") {{ value }}' for n in range(5000))
    await assert_refused(
        clients, f"{{ {aliases} }}", code="GRAPHQL_PARSE_FAILED", says=str(MAX_TOKENS)
    )


@pytest.mark.gen_test
async def test_more_fields_than_the_limit_are_refused_naming_it(clients):
    aliases = " ".join(f"a{n}: viewer {{ id }}" for n in range(MAX_FIELDS // 2 + 10))
    await assert_refused(clients, f"{{ {aliases} }}", says=f"the limit is {MAX_FIELDS}")


@pytest.mark.gen_test
async def test_fragments_count_each_time_they_are_spread(clients):
    fragment = "fragment F on Counter { " + " ".join(f"v{n}: value" for n in range(60)) + " }"
    spreads = " ".join(f'c{n}: counter(name: "x") {{ ...F }}' for n in range(20))
    await assert_refused(clients, f"{{ {spreads} }} {fragment}", says="fragments counted")


@pytest.mark.gen_test
async def test_a_fragment_cycle_is_a_validation_error(clients):
    query = '{ counter(name: "x") { ...A } } fragment A on Counter { ...B } fragment B on Counter { ...A }'
    await assert_refused(clients, query, says="Cannot spread fragment")


@pytest.mark.gen_test
async def test_too_many_tokens_are_refused_by_the_parser(clients):
    query = "{ " + " ".join("__typename" for _ in range(MAX_TOKENS + 10)) + " }"
    await assert_refused(clients, query, code="GRAPHQL_PARSE_FAILED", says=str(MAX_TOKENS))


@pytest.mark.gen_test
async def test_a_megabyte_string_argument_is_refused_and_changes_nothing(clients):
    token = await sign_up(clients, "writer")
    huge = "x" * 1_000_000
    query = f'mutation {{ createStory(url: "https://example.com/", title: "{huge}") {{ id }} }}'
    reply = await clients.graphql(query, headers={"Authorization": f"Bearer {token}"})
    assert reply.status == 400
    assert f"the limit is {MAX_STRING}" in reply.body["errors"][0]["message"]
    as_variable = await clients.graphql(
        'mutation($t: String!) { createStory(url: "https://example.com/", title: $t) { id } }',
        {"t": huge},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert as_variable.status == 400
    assert f"the limit is {MAX_STRING}" in as_variable.body["errors"][0]["message"]
    data = await clients.data("{ library { stories { totalCount } } }", token=token)
    assert data["library"]["stories"]["totalCount"] == 0


@pytest.mark.gen_test(timeout=30)
async def test_an_8_mb_body_is_refused_with_413_naming_the_limit(clients):
    body = b'{"query": "{ __typename }", "pad": "' + b"x" * (8 * 1024 * 1024) + b'"}'
    response = await clients.fetch(
        "/graphql", method="POST", body=body, headers={"Content-Type": "application/json"}
    )
    assert response.code == 413
    message = orjson.loads(response.body)["errors"][0]["message"]
    assert f"the limit is {MAX_BODY_BYTES} bytes" in message
    assert str(len(body)) in message


@pytest.mark.gen_test(timeout=30)
async def test_a_chunked_body_over_the_limit_is_refused_too(clients):
    chunks = [b"x" * 65536] * (MAX_BODY_BYTES // 65536 + 2)

    async def producer(write):
        for chunk in chunks:
            await write(chunk)

    response = await clients.fetch(
        "/graphql",
        method="POST",
        body_producer=producer,
        headers={"Content-Type": "application/json"},
    )
    assert response.code == 413


@pytest.mark.gen_test
async def test_the_limits_hold_over_the_socket_too(clients):
    socket = await open_graphql_socket(clients)
    await socket.init()
    await socket.subscribe("deep", deep_library_query(40))
    message = await socket.receive()
    assert message["type"] == "error"
    assert f"the limit is {MAX_DEPTH}" in message["payload"][0]["message"]
    # (A string past MAX_STRING cannot even arrive here: frames stop at 64 KiB.)
    await socket.send({"type": "ping"})
    assert await socket.receive() == {"type": "pong"}


@pytest.mark.gen_test
async def test_the_standard_introspection_query_is_not_limited(clients):
    data = await clients.data(get_introspection_query(descriptions=True))
    assert data["__schema"]["queryType"]["name"] == "Query"
