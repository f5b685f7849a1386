"""Automatic persisted queries (Apollo's protocol): Apollo Client's own
persisted-queries link over POST, GET and the socket, and what the server
answers to hashes it does not know, hashes that lie, and the bound."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

import orjson
import pytest

from app.api.persisted import PersistedQueries, PersistedQueryError
from tests.clients import open_graphql_socket
from tests.node_clients import run_node

GR = "application/graphql-response+json"
QUERY = 'query Value { counter(name: "apq") { value } }'
INCREMENT = 'mutation Bump($by: Int!) { incrementCounter(name: "apq", amount: $by) { value } }'
WATCH = 'subscription Watch { counter(name: "apq") { value } }'


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(text: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


async def run_apollo(tmp_path, base_url: str, steps: list[dict]) -> list[dict]:
    plan_file = tmp_path / "apollo.json"
    plan_file.write_text(json.dumps({"baseUrl": base_url, "steps": steps}))
    return (await run_node("apollo-persisted.mjs", str(plan_file)))["steps"]


@pytest.mark.gen_test(timeout=60)
async def test_apollo_sends_a_hash_first_then_the_query_once_and_a_new_client_the_hash_only(
    clients, tmp_path
):
    query = {"kind": "query", "document": QUERY}
    steps = await run_apollo(
        tmp_path,
        clients.base_url,
        [
            {"client": "first", "via": "post", **query},
            {"client": "second", "via": "post", **query},
            {"client": "third", "via": "get", **query},
        ],
    )
    for step in steps:
        assert step["errors"] == [], step
        assert step["data"]["counter"]["value"] == 0
    first, second, third = (step["requests"] for step in steps)
    # Unknown hash: told so, then the query sent once with its hash.
    assert [(r["method"], r["query"], r["status"]) for r in first] == [
        ("POST", False, 400),
        ("POST", True, 200),
    ]
    # Known now: one request, no query text, over POST and over GET.
    assert [(r["method"], r["query"], r["status"]) for r in second] == [("POST", False, 200)]
    assert [(r["method"], r["query"], r["status"]) for r in third] == [("GET", False, 200)]
    assert len({r["hash"] for r in first + second + third}) == 1


@pytest.mark.gen_test(timeout=60)
async def test_apollo_mutations_by_hash_apply_once_per_request(clients, tmp_path):
    bump = {"kind": "mutation", "document": INCREMENT, "variables": {"by": 5}}
    steps = await run_apollo(
        tmp_path,
        clients.base_url,
        [
            {"client": "first", "via": "post", **bump},
            {"client": "second", "via": "post", **bump},
            # A GET is not for mutations: the link sends those by POST.
            {"client": "third", "via": "get", **bump},
        ],
    )
    assert [step["errors"] for step in steps] == [[], [], []]
    assert [step["data"]["incrementCounter"]["value"] for step in steps] == [5, 10, 15]
    # The hash-only attempt that was refused applied nothing.
    assert [len(step["requests"]) for step in steps] == [2, 1, 1]
    assert {r["method"] for step in steps for r in step["requests"]} == {"POST"}
    assert (await clients.data('{ counter(name: "apq") { value } }'))["counter"]["value"] == 15


@pytest.mark.gen_test(timeout=60)
async def test_apollo_over_the_socket_subscribes_and_what_it_sent_is_known_over_http(
    clients, tmp_path
):
    steps = await run_apollo(
        tmp_path,
        clients.base_url,
        [
            {
                "client": "live",
                "via": "socket",
                "kind": "subscription",
                "document": WATCH,
                "events": 2,
                "mutations": [
                    'mutation { incrementCounter(name: "apq") { value } }',
                    'mutation { incrementCounter(name: "apq") { value } }',
                ],
            },
            {"client": "live", "via": "socket", "kind": "query", "document": QUERY},
            # The query the socket sent with its hash is kept: HTTP by hash alone.
            {"client": "http", "via": "post", "kind": "query", "document": QUERY},
        ],
    )
    watch, over_socket, over_http = steps
    assert watch["errors"] == []
    assert [event["counter"]["value"] for event in watch["events"]] == [1, 2]
    assert over_socket["errors"] == []
    assert over_socket["data"]["counter"]["value"] == 2
    assert over_http["data"]["counter"]["value"] == 2
    assert [(r["query"], r["status"]) for r in over_http["requests"]] == [(False, 200)]


@pytest.mark.gen_test
async def test_an_unknown_hash_is_persisted_query_not_found_on_both_media_types(clients):
    for accept, status in ((GR, 400), ("application/json", 200)):
        reply = await clients.fetch(
            "/graphql",
            method="POST",
            body=orjson.dumps({"extensions": persisted("{ never { sent } }")}),
            headers={"Content-Type": "application/json", "Accept": accept},
        )
        assert reply.code == status
        assert orjson.loads(reply.body) == {
            "errors": [
                {
                    "message": "PersistedQueryNotFound",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
                }
            ]
        }


@pytest.mark.gen_test
async def test_a_hash_that_does_not_match_its_query_is_refused_and_not_kept(clients):
    lie = {"persistedQuery": {"version": 1, "sha256Hash": sha("{ something { else } }")}}
    reply = await clients.graphql(QUERY, extensions=lie)
    assert reply.status == 400
    (error,) = reply.body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "does not match" in error["message"]
    # The lying hash does not now stand for the query.
    reply = await clients.graphql(None, extensions=lie)  # type: ignore[arg-type]
    assert reply.body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.gen_test
async def test_only_documents_that_validate_are_kept(clients):
    invalid = "{ counter(name: 1) { nothing } }"
    reply = await clients.graphql(invalid, extensions=persisted(invalid))
    assert reply.body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    reply = await clients.graphql(None, extensions=persisted(invalid))  # type: ignore[arg-type]
    assert reply.body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("extension", "words"),
    [
        ({"version": 2, "sha256Hash": "0" * 64}, "version 1"),
        ({"version": 1, "sha256Hash": "not a hash"}, "64 hex digits"),
        ("a string", "version 1"),
    ],
)
@pytest.mark.gen_test
async def test_a_malformed_persisted_query_extension_says_what_is_wrong(clients, extension, words):
    reply = await clients.graphql(QUERY, extensions={"persistedQuery": extension})
    assert reply.status == 400
    (error,) = reply.body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert words in error["message"]


@pytest.mark.gen_test
async def test_get_by_hash_runs_a_kept_query_and_refuses_a_kept_mutation(clients):
    increment = 'mutation { incrementCounter(name: "apq") { value } }'
    for text in (QUERY, increment):
        assert (await clients.graphql(text, extensions=persisted(text))).status == 200
    for text, status in ((QUERY, 200), (increment, 405)):
        response = await clients.fetch(
            "/graphql?" + urlencode({"extensions": json.dumps(persisted(text))}),
            headers={"Accept": GR},
        )
        assert response.code == status, response.body
    assert (await clients.data(QUERY))["counter"]["value"] == 1


@pytest.mark.gen_test
async def test_the_socket_answers_an_unknown_hash_with_an_error_and_stays_open(clients):
    socket = await open_graphql_socket(clients)
    await socket.init()
    await socket.send({"id": "1", "type": "subscribe", "payload": {"extensions": persisted(QUERY)}})
    message = await socket.receive()
    assert message["type"] == "error"
    assert message["id"] == "1"
    assert message["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    # Sent once with its hash, then known by the hash alone.
    await socket.subscribe("2", QUERY, extensions=persisted(QUERY))
    assert (await socket.next_payload("2")) == {"data": {"counter": {"value": 0}}}
    assert (await socket.receive())["type"] == "complete"
    await socket.send({"id": "3", "type": "subscribe", "payload": {"extensions": persisted(QUERY)}})
    assert (await socket.next_payload("3")) == {"data": {"counter": {"value": 0}}}


def test_the_store_is_bounded_by_entries_and_bytes_least_recently_used_out():
    store = PersistedQueries(max_entries=3, max_bytes=10_000)
    texts = [f"{{ a{i} }}" for i in range(4)]
    for text in texts[:3]:
        store.remember(sha(text), text)
    assert store.query_for(sha(texts[0]), None) == texts[0]  # used: kept longest
    store.remember(sha(texts[3]), texts[3])
    assert len(store) == 3
    assert store.query_for(sha(texts[0]), None) == texts[0]
    with pytest.raises(PersistedQueryError, match="PersistedQueryNotFound"):
        store.query_for(sha(texts[1]), None)
    big = "{ b }" + " " * 3_000
    store.remember(sha(big), big)  # over a quarter of the bytes: not kept
    assert len(store) == 3
    assert store.bytes <= 10_000
