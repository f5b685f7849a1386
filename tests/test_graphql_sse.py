"""GraphQL over Server-Sent Events (graphql-sse) at /graphql, by hand:
both modes, resume with Last-Event-ID, and every bad request refused with
a sentence and nothing changed. The npm client: test_node_graphql_sse.py."""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.request
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from tests.clients import Clients, bearer, sign_up
from tests.cluster import wait_watchers
from tests.processes import ServerProcess
from tests.sse_client import EventStreamResponse, open_event_stream

LIBRARY = (
    'subscription { channel(name: "library") { ... on StoryCreateEvent { type story { title } } '
    "... on LibraryChangeEvent { type totalStories } } }"
)
CREATE = "mutation($u: String!, $t: String!) { createStory(url: $u, title: $t) { id } }"
COUNTER = 'subscription { counter(name: "sse") { value } }'
INCREMENT = 'mutation { incrementCounter(name: "sse") { value } }'
TOKEN_HEADER = "X-GraphQL-Event-Stream-Token"


async def subscribe(
    clients: Clients, query: str, token: str | None = None, **headers: str
) -> EventStreamResponse:
    """A distinct-connections stream for `query` (POST)."""
    sent = {**(bearer(token) if token else {}), **headers}
    stream = await open_event_stream(clients.base_url, "POST", headers=sent, body={"query": query})
    assert stream.status == 200, stream.status
    return stream


async def create_stories(clients: Clients, token: str, first: int, count: int) -> None:
    for number in range(first, first + count):
        await clients.data(CREATE, {"u": f"https://example.com/{number}", "t": f"S{number}"}, token)


def described(data: dict[str, Any]) -> str:
    event = data["data"]["channel"]
    return event["story"]["title"] if "story" in event else f"total {event['totalStories']}"


async def reserve(clients: Clients, token: str | None = None) -> str:
    response = await clients.fetch(
        "/graphql", method="PUT", body=b"", headers=bearer(token) if token else {}
    )
    assert response.code == 201, response.body
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.body.decode()


async def post_operation(
    clients: Clients, stream_token: str, body: Any, token: str | None = None
) -> Any:
    return await clients.fetch(
        "/graphql",
        method="POST",
        body=orjson.dumps(body),
        headers={
            "Content-Type": "application/json",
            TOKEN_HEADER: stream_token,
            **(bearer(token) if token else {}),
        },
    )


def error_of(response: Any) -> dict[str, Any]:
    [error] = orjson.loads(response.body)["errors"]
    return error


# ------------------------------------------------------- distinct connections


@pytest.mark.gen_test(timeout=30)
async def test_a_query_streams_one_next_then_complete_and_the_response_ends(clients):
    stream = await subscribe(clients, '{ counter(name: "sse") { value } }')
    assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert stream.headers["cache-control"] == "no-cache"
    first = await stream.event()
    assert (first.kind, first.data) == ("next", {"data": {"counter": {"value": 0}}})
    assert first.id is None  # a query's result has no stream position
    rest = await stream.ended()
    assert [(event.kind, event.data) for event in rest] == [("complete", None)]
    assert stream.comments >= 1  # the keep-alive comment that opens every stream


@pytest.mark.gen_test(timeout=30)
async def test_a_query_over_get_streams_too_but_a_mutation_over_get_is_405(clients):
    query = quote('{ counter(name: "sse") { value } }')
    stream = await open_event_stream(clients.base_url, target=f"/graphql?query={query}")
    assert (await stream.event()).data == {"data": {"counter": {"value": 0}}}
    assert [event.kind for event in await stream.ended()] == ["complete"]
    response = await clients.fetch(
        f"/graphql?query={quote(INCREMENT)}", headers={"Accept": "text/event-stream"}
    )
    assert response.code == 405
    assert "Mutations need POST" in error_of(response)["message"]
    assert (await clients.data('{ counter(name: "sse") { value } }'))["counter"]["value"] == 0


@pytest.mark.gen_test(timeout=30)
async def test_a_mutation_streams_its_result(clients):
    stream = await subscribe(clients, INCREMENT)
    assert (await stream.event()).data == {"data": {"incrementCounter": {"value": 1}}}
    assert [event.kind for event in await stream.ended()] == ["complete"]


@pytest.mark.gen_test(timeout=30)
async def test_validation_errors_come_as_a_next_with_errors_on_an_accepted_stream(clients):
    stream = await subscribe(clients, "{ nope }")
    first = await stream.event()
    assert first.kind == "next"
    assert first.data["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "nope" in first.data["errors"][0]["message"]
    assert [event.kind for event in await stream.ended()] == ["complete"]


@pytest.mark.gen_test(timeout=30)
async def test_the_library_channel_without_auth_is_unauthenticated_then_complete(clients):
    stream = await subscribe(clients, LIBRARY)
    first = await stream.event()
    assert "data" not in first.data or first.data["data"] is None
    assert first.data["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "traceback" not in orjson.dumps(first.data).decode().lower()
    assert [event.kind for event in await stream.ended()] == ["complete"]


@pytest.mark.gen_test(timeout=30)
async def test_a_subscription_streams_each_event_with_its_position_as_the_event_id(clients):
    token = await sign_up(clients, "streamer")
    stream = await subscribe(clients, LIBRARY, token)
    await asyncio.sleep(0.2)  # (joined its group)
    await create_stories(clients, token, 1, 1)
    events = [await stream.event(), await stream.event()]
    assert [described(event.data) for event in events] == ["S1", "total 1"]
    for event in events:
        position = event.data["extensions"]["stream"]
        assert event.kind == "next"
        assert event.id == f"{position['offset']}:{position['epoch']}"
    assert [event.data["extensions"]["stream"]["offset"] for event in events] == [1, 2]
    stream.close()


@pytest.mark.gen_test(timeout=60)
async def test_reconnecting_with_last_event_id_gets_exactly_the_missed_events_once_in_order(
    clients,
):
    token = await sign_up(clients, "returner")
    stream = await subscribe(clients, LIBRARY, token)
    await asyncio.sleep(0.2)
    await create_stories(clients, token, 1, 2)
    seen = [await stream.event() for _ in range(4)]
    last_id = seen[-1].id
    assert last_id is not None
    assert last_id.startswith("4:")
    stream.close()  # the network drops

    await create_stories(clients, token, 3, 3)  # six events missed

    back = await subscribe(clients, LIBRARY, token, **{"Last-Event-ID": last_id})
    replayed = [await back.event() for _ in range(6)]
    assert [described(event.data) for event in replayed] == [
        "S3", "total 3", "S4", "total 4", "S5", "total 5",
    ]  # fmt: skip
    assert [event.id.split(":")[0] for event in replayed] == ["5", "6", "7", "8", "9", "10"]
    await create_stories(clients, token, 6, 1)
    live = [await back.event(), await back.event()]
    assert [described(event.data) for event in live] == ["S6", "total 6"]
    assert [event.id.split(":")[0] for event in live] == ["11", "12"]
    await back.nothing_more()
    back.close()


@pytest.mark.gen_test(timeout=30)
async def test_hanging_up_ends_the_subscription_and_leaves_nothing_behind(clients, registry):
    stream = await subscribe(clients, COUNTER)
    await asyncio.sleep(0.2)
    assert ("counter", "sse") in registry.topics()
    stream.close()
    for _ in range(100):
        if ("counter", "sse") not in registry.topics():
            break
        await asyncio.sleep(0.02)
    assert ("counter", "sse") not in registry.topics()


@pytest.mark.gen_test(timeout=30)
async def test_signing_out_ends_that_credentials_streams(clients):
    token = await sign_up(clients, "leaver")
    stream = await subscribe(clients, LIBRARY, token)
    await asyncio.sleep(0.2)
    await clients.data("mutation { signOut }", token=token)
    assert await stream.ended() == []


# ---------------------------------------------------------- single connection


@pytest.mark.gen_test(timeout=30)
async def test_single_connection_mode_runs_operations_by_id_on_one_stream(clients):
    stream_token = await reserve(clients)
    stream = await open_event_stream(clients.base_url, headers={TOKEN_HEADER: stream_token})
    assert stream.status == 200
    subscription = {"query": COUNTER, "extensions": {"operationId": "watch"}}
    assert (await post_operation(clients, stream_token, subscription)).code == 202
    await asyncio.sleep(0.2)
    await clients.data(INCREMENT)
    event = await stream.event()
    assert event.kind == "next"
    assert event.data["id"] == "watch"
    assert event.data["payload"]["data"] == {"counter": {"value": 1}}
    assert event.id == "1:" + event.data["payload"]["extensions"]["stream"]["epoch"]

    query = {"query": '{ counter(name: "sse") { value } }', "extensions": {"operationId": "q"}}
    assert (await post_operation(clients, stream_token, query)).code == 202
    answer, done = await stream.event(), await stream.event()
    assert (answer.kind, answer.data) == (
        "next",
        {"id": "q", "payload": {"data": {"counter": {"value": 1}}}},
    )
    assert (done.kind, done.data) == ("complete", {"id": "q"})

    stop = await clients.fetch(
        "/graphql?operationId=watch", method="DELETE", headers={TOKEN_HEADER: stream_token}
    )
    assert stop.code == 200
    await clients.data(INCREMENT)
    await stream.nothing_more()
    stream.close()


@pytest.mark.gen_test(timeout=30)
async def test_a_failing_operation_gets_its_errors_then_complete_and_the_stream_goes_on(clients):
    stream_token = await reserve(clients)
    stream = await open_event_stream(clients.base_url, headers={TOKEN_HEADER: stream_token})
    refused = {"query": LIBRARY, "extensions": {"operationId": "lib"}}
    assert (await post_operation(clients, stream_token, refused)).code == 202
    failure, done = await stream.event(), await stream.event()
    assert failure.data["id"] == "lib"
    assert failure.data["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (done.kind, done.data) == ("complete", {"id": "lib"})
    query = {"query": '{ counter(name: "x") { value } }', "extensions": {"operationId": "q"}}
    assert (await post_operation(clients, stream_token, query)).code == 202
    assert (await stream.event()).data["payload"] == {"data": {"counter": {"value": 0}}}
    stream.close()


@pytest.mark.gen_test(timeout=30)
async def test_a_reservation_is_its_owners_alone(clients):
    ada, bob = await sign_up(clients, "ada"), await sign_up(clients, "bob")
    stream_token = await reserve(clients, ada)
    stream = await open_event_stream(
        clients.base_url, headers={TOKEN_HEADER: stream_token, **bearer(ada)}
    )
    assert stream.status == 200
    # Bob, holding Ada's stream token, can neither run on it nor stop hers.
    library = {"query": LIBRARY, "extensions": {"operationId": "lib"}}
    response = await post_operation(clients, stream_token, library, token=bob)
    assert response.code == 404
    assert error_of(response)["extensions"]["code"] == "NOT_FOUND"
    anonymous = await post_operation(clients, stream_token, library)
    assert anonymous.code == 404
    assert (await post_operation(clients, stream_token, library, token=ada)).code == 202
    await asyncio.sleep(0.2)
    stop = await clients.fetch(
        "/graphql?operationId=lib",
        method="DELETE",
        headers={TOKEN_HEADER: stream_token, **bearer(bob)},
    )
    assert stop.code == 404
    await create_stories(clients, bob, 1, 1)  # Bob's library: not Ada's events
    await create_stories(clients, ada, 1, 1)
    event = await stream.event()
    assert event.data["payload"]["data"]["channel"] == {
        "type": "story:create",
        "story": {"title": "S1"},
    }
    assert event.data["payload"]["extensions"]["stream"]["offset"] == 1
    stream.close()


# ----------------------------------------------------------------- bad input


@pytest.mark.gen_test(timeout=30)
async def test_bad_requests_are_refused_with_a_sentence_and_change_nothing(clients):
    stream_token = await reserve(clients)
    stream = await open_event_stream(clients.base_url, headers={TOKEN_HEADER: stream_token})
    sse = {"Accept": "text/event-stream"}
    json_type = {"Content-Type": "application/json"}
    token_header = {TOKEN_HEADER: stream_token}
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        # (what, fetch arguments, status, words of the message)
        (
            "bad JSON",
            {"method": "POST", "body": b"{nope", "headers": {**sse, **json_type}},
            400,
            "not valid UTF-8 JSON",
        ),
        (
            "not JSON at all",
            {
                "method": "POST",
                "body": b"query=x",
                "headers": {**sse, "Content-Type": "text/plain"},
            },
            415,
            "application/json",
        ),
        (
            "no query",
            {"method": "POST", "body": b"{}", "headers": {**sse, **json_type}},
            400,
            "no `query`",
        ),
        (
            "an unknown stream token",
            {
                "method": "POST",
                "body": orjson.dumps({"query": INCREMENT, "extensions": {"operationId": "1"}}),
                "headers": {**json_type, TOKEN_HEADER: "made-up"},
            },
            404,
            "No event stream is reserved",
        ),
        (
            "a stream of an unknown token",
            {"headers": {**sse, TOKEN_HEADER: "made-up"}},
            404,
            "No event stream is reserved",
        ),
        (
            "an operation without its id",
            {
                "method": "POST",
                "body": orjson.dumps({"query": INCREMENT}),
                "headers": {**json_type, **token_header},
            },
            400,
            "extensions.operationId",
        ),
        (
            "stopping without saying what",
            {"method": "DELETE", "headers": token_header},
            400,
            "operationId",
        ),
        (
            "stopping on an unknown token",
            {"method": "DELETE", "headers": {TOKEN_HEADER: "made-up"}},
            404,
            "No event stream is reserved",
        ),
        (
            "a second stream for one reservation",
            {"headers": {**sse, **token_header}},
            409,
            "already open",
        ),
        (
            "a malformed Last-Event-ID",
            {
                "method": "POST",
                "body": orjson.dumps({"query": INCREMENT}),
                "headers": {**sse, **json_type, "Last-Event-ID": "yesterday"},
            },
            400,
            "Last-Event-ID",
        ),
        (
            "an invalid bearer token",
            {
                "method": "POST",
                "body": orjson.dumps({"query": INCREMENT}),
                "headers": {**sse, **json_type, "Authorization": "Bearer nope"},
            },
            401,
            "invalid or has been revoked",
        ),
    ]
    for what, arguments, status, words in cases:
        response = await clients.fetch("/graphql", **arguments)
        assert response.code == status, (what, response.body)
        error = error_of(response)
        assert words in error["message"], (what, error)
        assert error["extensions"]["code"], what
    # A validation error in single connection mode is answered on the
    # request, as GraphQL over HTTP says (application/json: 200).
    invalid = await post_operation(
        clients, stream_token, {"query": "{ nope }", "extensions": {"operationId": "v"}}
    )
    assert invalid.code == 200
    assert error_of(invalid)["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # A duplicate operation id is a conflict.
    watch = {"query": COUNTER, "extensions": {"operationId": "w"}}
    assert (await post_operation(clients, stream_token, watch)).code == 202
    duplicate = await post_operation(clients, stream_token, watch)
    assert duplicate.code == 409
    assert "already running" in error_of(duplicate)["message"]
    # Nothing was changed, and the stream carried nothing of it.
    assert (await clients.data('{ counter(name: "sse") { value } }'))["counter"]["value"] == 0
    await stream.nothing_more()
    stream.close()


@pytest.mark.gen_test(timeout=30)
async def test_plain_graphql_over_http_is_untouched_and_names_both_subscription_transports(
    clients,
):
    reply = await clients.graphql(INCREMENT)
    assert reply.status == 200
    assert reply.body == {"data": {"incrementCounter": {"value": 1}}}
    refused = await clients.graphql(COUNTER)
    assert refused.status == 400
    assert "Server-Sent Events" in refused.body["errors"][0]["message"]


# ------------------------------------------------------------------ shutdown


@pytest.mark.gen_test(timeout=40)
async def test_sigterm_answers_the_mutation_running_then_ends_every_stream_cleanly(tmp_path):
    server = ServerProcess(tmp_path).spawn()
    try:
        await asyncio.to_thread(server.wait_healthy)
        watching = await open_event_stream(server.url, "POST", body={"query": COUNTER})
        assert watching.status == 200
        reserved = await asyncio.to_thread(
            urllib.request.urlopen,
            urllib.request.Request(server.url + "/graphql", method="PUT"),
        )
        single = await open_event_stream(
            server.url, headers={TOKEN_HEADER: reserved.read().decode()}
        )
        assert single.status == 200
        # A sign-up hashes its password for a moment: still running at SIGTERM.
        signing_up = await open_event_stream(
            server.url,
            "POST",
            body={
                "query": 'mutation { signUp(username: "late", password: "correct horse") { token } }'
            },
        )
        await asyncio.sleep(0.05)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)

        answered = await signing_up.ended(10)
        assert answered[0].kind == "next"
        assert "token" in answered[0].data["data"]["signUp"]
        assert answered[-1].kind == "complete"
        for stream in (watching, single):
            assert await stream.ended(10) == []  # the response ends: clients reconnect
            assert stream.finished
        assert await asyncio.to_thread(server.process.wait, 10) == 0
        assert time.monotonic() - started < 10
    finally:
        output = server.stop()
    assert "stopping: closing 3 sockets" in output


@pytest.mark.gen_test(timeout=60)
async def test_an_event_stream_counts_towards_the_users_50_sockets(clients):
    token = await sign_up(clients, "many")
    streams = [await subscribe(clients, LIBRARY, token) for _ in range(50)]
    response = await clients.fetch(
        "/graphql",
        method="POST",
        body=orjson.dumps({"query": LIBRARY}),
        headers={
            "Accept": "text/event-stream",
            "Content-Type": "application/json",
            **bearer(token),
        },
    )
    assert response.code == 429
    assert "50 sockets and streams open" in error_of(response)["message"]
    streams.pop().close()
    await asyncio.sleep(0.2)
    again = await subscribe(clients, LIBRARY, token)
    for stream in [*streams, again]:
        stream.close()


@pytest.mark.gen_test(timeout=90)
async def test_last_event_id_resumes_on_the_other_process_with_every_missed_event_once(pair):
    a, b = pair
    subscription = {"query": 'subscription { counter(name: "roam") { value } }'}
    increment = 'mutation { incrementCounter(name: "roam") { value } }'
    stream = await open_event_stream(b.url, "POST", body=subscription)
    await wait_watchers(b, "roam", 1)
    for _ in range(2):
        await a.graphql_async(increment)
    seen = [await stream.event() for _ in range(2)]
    assert [event.data["data"]["counter"]["value"] for event in seen] == [1, 2]
    stream.close()  # b's client drops; three changes happen meanwhile
    for _ in range(3):
        await a.graphql_async(increment)

    back = await open_event_stream(
        a.url, "POST", headers={"Last-Event-ID": seen[-1].id or ""}, body=subscription
    )
    replayed = [await back.event() for _ in range(3)]
    assert [event.data["data"]["counter"]["value"] for event in replayed] == [3, 4, 5]
    assert [event.id.split(":")[0] for event in replayed if event.id] == ["3", "4", "5"]
    await wait_watchers(a, "roam", 1)
    await b.graphql_async(increment)
    live = await back.event()
    assert (live.data["data"]["counter"]["value"], live.id.split(":")[0]) == (6, "6")
    await back.nothing_more()
    back.close()


@pytest.mark.gen_test(timeout=30)
async def test_results_of_operations_posted_before_the_stream_opens_wait_for_it(clients):
    stream_token = await reserve(clients)
    query = {"query": '{ counter(name: "early") { value } }', "extensions": {"operationId": "e"}}
    assert (await post_operation(clients, stream_token, query)).code == 202
    await asyncio.sleep(0.1)  # answered already, into the reservation
    stream = await open_event_stream(clients.base_url, headers={TOKEN_HEADER: stream_token})
    answer, done = await stream.event(), await stream.event()
    assert answer.data == {"id": "e", "payload": {"data": {"counter": {"value": 0}}}}
    assert done.data == {"id": "e"}
    stream.close()
