"""GraphQL over HTTP: methods, media types, status codes, error shapes."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import orjson
import pytest
from graphql import GraphQLError

from app.api.errors import format_error

GR = "application/graphql-response+json"


@pytest.mark.gen_test
async def test_get_runs_a_query(clients):
    response = await clients.fetch(
        "/graphql?" + urlencode({"query": '{ counter(name: "g") { value } }'})
    )
    assert response.code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert orjson.loads(response.body) == {"data": {"counter": {"value": 0}}}


@pytest.mark.gen_test
async def test_get_refuses_a_mutation_with_405_and_changes_nothing(clients):
    query = 'mutation { incrementCounter(name: "g") { value } }'
    response = await clients.fetch(
        "/graphql?" + urlencode({"query": query}), headers={"Accept": GR}
    )
    assert response.code == 405
    assert response.headers["Allow"] == "POST"
    assert "POST" in orjson.loads(response.body)["errors"][0]["message"]
    assert (await clients.data('{ counter(name: "g") { value } }'))["counter"]["value"] == 0


@pytest.mark.gen_test
async def test_other_methods_get_405_naming_the_allowed_ones(clients):
    # (PUT and DELETE belong to GraphQL over SSE: tests/test_graphql_sse.py.)
    response = await clients.fetch("/graphql", method="PATCH", body=b"{}")
    assert response.code == 405
    assert response.headers["Allow"] == "GET, POST, PUT, DELETE, OPTIONS"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
@pytest.mark.gen_test
async def test_post_bodies_other_than_json_get_415(clients, content_type):
    response = await clients.fetch(
        "/graphql",
        method="POST",
        body=b'{"query": "{ __typename }"}',
        headers={"Content-Type": content_type},
    )
    assert response.code == 415
    assert "application/json" in orjson.loads(response.body)["errors"][0]["message"]


@pytest.mark.gen_test
async def test_a_post_with_an_unacceptable_accept_and_a_large_body_is_406(clients):
    body = b'{"query": "{ __typename }", "pad": "' + b"x" * 200_000 + b'"}'
    response = await clients.fetch(
        "/graphql",
        method="POST",
        body=body,
        headers={"Content-Type": "application/json", "Accept": "text/csv"},
    )
    assert response.code == 406


@pytest.mark.gen_test
async def test_an_unacceptable_accept_header_gets_406(clients):
    response = await clients.fetch(
        "/graphql?query=%7B__typename%7D", headers={"Accept": "text/csv"}
    )
    assert response.code == 406


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{ not json", "not valid UTF-8 JSON"),
        (b"\xff\xfe{}", "not valid UTF-8 JSON"),
        (b"[]", "JSON object"),
        (b"{}", "no `query`"),
        (b'{"query": 5}', "`query` must be a string"),
        (b'{"query": "{ __typename }", "variables": [1]}', "`variables` must be a JSON object"),
        (b'{"query": "{ __typename }", "extensions": "x"}', "`extensions` must be a JSON object"),
        (b'{"query": "{ __typename }", "operationName": 3}', "`operationName` must be a string"),
    ],
)
@pytest.mark.parametrize("accept", [GR, "application/json"])
@pytest.mark.gen_test
async def test_malformed_requests_get_400_with_a_clear_message(clients, body, message, accept):
    response = await clients.fetch(
        "/graphql",
        method="POST",
        body=body,
        headers={"Content-Type": "application/json", "Accept": accept},
    )
    assert response.code == 400
    error = orjson.loads(response.body)["errors"][0]
    assert message in error["message"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ counter(name: ", None, "GRAPHQL_PARSE_FAILED"),
        ("{ nothingHere }", None, "GRAPHQL_VALIDATION_FAILED"),
        ('{ counter(name: "x") }', None, "GRAPHQL_VALIDATION_FAILED"),  # no empty selections
        ("query($n: String!) { counter(name: $n) { value } }", {}, "BAD_USER_INPUT"),
        ("query($n: String!) { counter(name: $n) { value } }", {"n": 5}, "BAD_USER_INPUT"),
    ],
)
@pytest.mark.gen_test
async def test_request_errors_have_no_data_and_the_status_the_media_type_asks(
    clients, query, variables, code
):
    strict = await clients.graphql(query, variables, accept=GR)
    assert strict.status == 400
    assert strict.headers["Content-Type"] == f"{GR}; charset=utf-8"
    assert "data" not in strict.body
    assert strict.body["errors"][0]["extensions"]["code"] == code

    legacy = await clients.graphql(query, variables, accept="application/json")
    assert legacy.status == 200
    assert legacy.headers["Content-Type"] == "application/json; charset=utf-8"
    assert legacy.body == strict.body


@pytest.mark.gen_test
async def test_field_errors_keep_data_and_status_200(clients):
    reply = await clients.graphql(
        '{ ok: counter(name: "fine") { value } bad: counter(name: "no good") { value } }', accept=GR
    )
    assert reply.status == 200
    assert reply.body["data"] is None  # Counter! is non-null, so the error reaches the root
    assert reply.body["errors"][0]["path"] == ["bad"]
    assert reply.body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.gen_test
async def test_an_unknown_operation_name_is_a_request_error(clients):
    reply = await clients.graphql(
        "query A { __typename } query B { __typename }", operationName="C"
    )
    assert reply.status == 400
    assert "Unknown operation named 'C'" in reply.body["errors"][0]["message"]
    reply = await clients.graphql("query A { __typename } query B { __typename }")
    assert "Must provide operation name" in reply.body["errors"][0]["message"]
    reply = await clients.graphql(
        "query A { __typename } query B { __typename }", operationName="B"
    )
    assert reply.body == {"data": {"__typename": "Query"}}


@pytest.mark.gen_test
async def test_subscriptions_over_http_point_to_the_websocket(clients):
    reply = await clients.graphql('subscription { counter(name: "s") { value } }')
    assert reply.status == 400
    assert "WebSocket" in reply.body["errors"][0]["message"]


def test_an_unexpected_exception_becomes_internal_server_error_without_its_traceback(caplog):
    try:
        {}["missing"]  # a real bug, raised and caught as a resolver's would be
    except KeyError as bug:
        error = GraphQLError("'missing'", original_error=bug, path=["field"])
    with caplog.at_level(logging.ERROR):
        formatted = format_error(error, "UNUSED")
    assert formatted["message"] == "Internal server error."
    assert formatted["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "missing" not in orjson.dumps(formatted).decode()
    assert "Traceback" not in orjson.dumps(formatted).decode()
    assert "KeyError" in caplog.text  # the traceback went to the log instead
