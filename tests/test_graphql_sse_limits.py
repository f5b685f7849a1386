"""Size limits over GraphQL over SSE, end to end: a request body over
1 MiB is refused before anything runs, as over plain HTTP (413), and a
result or a subscription's event over 1 MiB is an error for its operation
alone, as on the socket (`BAD_USER_INPUT`, the size and the limit named)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from app.api.limits import MAX_BODY_BYTES
from tests.clients import sign_up
from tests.sse_client import open_event_stream
from tests.test_event_stream import open_single
from tests.test_graphql_sse import INCREMENT, TOKEN_HEADER, error_of, post_operation, reserve

SSE = {"Accept": "text/event-stream", "Content-Type": "application/json"}
PADDING = "x" * (2 * 1024 * 1024)
COUNTER_VALUE = '{ counter(name: "sse") { value } }'
STORIES_TWICE = """{
  a: library { stories(first: 100) { edges { node { url description } } } }
  b: library { stories(first: 100) { edges { node { url description } } } }
}"""


def assert_says_the_result_is_too_large(errors: list[dict[str, Any]]) -> None:
    [only] = errors
    assert only["extensions"]["code"] == "BAD_USER_INPUT"
    assert only["message"].startswith("The result is 1.4 MB"), only
    assert "limited to 1 MiB" in only["message"]


async def fill_library(clients, token: str) -> None:
    """100 stories of ~7 KB each: the library listed twice is ~1.4 MB."""
    description = "d" * 5000
    for batch in range(2):
        aliases = " ".join(
            f's{n}: createStory(url: "https://example.com/{batch}/{n}/{"u" * 1900}", '
            f'title: "T{n}", description: $d) {{ id }}'
            for n in range(50)
        )
        await clients.data(f"mutation($d: String) {{ {aliases} }}", {"d": description}, token)


# ------------------------------------------------------------ request body


@pytest.mark.gen_test(timeout=30)
async def test_a_body_over_1_mib_is_refused_with_413_naming_the_limit_and_runs_nothing(clients):
    stream_token = await reserve(clients)
    single = await open_event_stream(clients.base_url, headers={TOKEN_HEADER: stream_token})
    padded = {"query": INCREMENT, "pad": PADDING}
    requests = {
        "distinct": (padded, SSE),
        "single": (
            {**padded, "extensions": {"operationId": "big"}},
            {"Content-Type": "application/json", TOKEN_HEADER: stream_token},
        ),
    }
    for mode, (body, headers) in requests.items():
        raw = orjson.dumps(body)
        response = await clients.fetch("/graphql", method="POST", body=raw, headers=headers)
        assert response.code == 413, (mode, response.body)
        error = error_of(response)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", mode
        assert f"The request body has {len(raw)} bytes" in error["message"], mode
        assert f"the limit is {MAX_BODY_BYTES} bytes (1 MiB)" in error["message"], mode
    # Nothing ran: the counter is where it was, and the stream carried nothing.
    assert (await clients.data(COUNTER_VALUE))["counter"]["value"] == 0
    await single.nothing_more()
    single.close()


@pytest.mark.gen_test(timeout=30)
async def test_a_chunked_body_over_1_mib_is_refused_too(clients):
    async def producer(write):
        await write(orjson.dumps({"query": INCREMENT, "pad": PADDING}))

    response = await clients.fetch("/graphql", method="POST", body_producer=producer, headers=SSE)
    assert response.code == 413
    assert f"the limit is {MAX_BODY_BYTES} bytes" in error_of(response)["message"]
    assert (await clients.data(COUNTER_VALUE))["counter"]["value"] == 0


@pytest.mark.gen_test(timeout=30)
async def test_a_body_just_under_1_mib_still_runs(clients):
    body = {"query": INCREMENT, "pad": ""}
    body["pad"] = "x" * (MAX_BODY_BYTES - len(orjson.dumps(body)))
    assert len(orjson.dumps(body)) == MAX_BODY_BYTES
    stream = await open_event_stream(clients.base_url, "POST", headers=SSE, body=body)
    assert stream.status == 200
    assert (await stream.event()).data == {"data": {"incrementCounter": {"value": 1}}}
    assert [event.kind for event in await stream.ended()] == ["complete"]


# ------------------------------------------------------- results and events


@pytest.mark.gen_test(timeout=60)
async def test_a_result_over_1_mib_is_a_next_with_the_error_then_complete_in_both_modes(clients):
    token = await sign_up(clients, "hoarder")
    await fill_library(clients, token)
    auth = {"Authorization": f"Bearer {token}"}

    distinct = await open_event_stream(
        clients.base_url, "POST", headers={**SSE, **auth}, body={"query": STORIES_TWICE}
    )
    failure = await distinct.event(timeout=20)
    assert failure.kind == "next"
    assert "data" not in failure.data
    assert_says_the_result_is_too_large(failure.data["errors"])
    assert [event.kind for event in await distinct.ended()] == ["complete"]

    stream_token = await reserve(clients, token)
    single = await open_event_stream(clients.base_url, headers={TOKEN_HEADER: stream_token, **auth})
    big = {"query": STORIES_TWICE, "extensions": {"operationId": "big"}}
    assert (await post_operation(clients, stream_token, big, token)).code == 202
    failure, done = await single.event(timeout=20), await single.event()
    assert failure.data["id"] == "big"
    assert_says_the_result_is_too_large(failure.data["payload"]["errors"])
    assert (done.kind, done.data) == ("complete", {"id": "big"})
    # The stream stays open and runs the next operation.
    small = {"query": "{ viewer { username } }", "extensions": {"operationId": "small"}}
    assert (await post_operation(clients, stream_token, small, token)).code == 202
    answer, done = await single.event(), await single.event()
    assert answer.data == {"id": "small", "payload": {"data": {"viewer": {"username": "hoarder"}}}}
    assert done.data == {"id": "small"}
    single.close()


@pytest.mark.gen_test(timeout=60)
async def test_an_event_over_1_mib_ends_that_subscription_with_the_error_and_the_stream_goes_on(
    clients, registry
):
    token = await sign_up(clients, "echo")
    copies = " ".join(f"c{n}: story {{ description }}" for n in range(250))  # ~1.25 MB
    huge = (
        f'subscription {{ channel(name: "library") {{ ... on StoryCreateEvent {{ {copies} }} }} }}'
    )
    small = 'subscription { channel(name: "library") { __typename } }'
    stream = await open_single(clients, {"huge": huge, "small": small}, token)
    for _ in range(250):  # until both groups listen
        if sum(n for topic, n in registry.topics().items() if topic[-1] == "library") == 2:
            break
        await asyncio.sleep(0.02)
    await clients.data(
        'mutation($d: String) { createStory(url: "https://example.com/e", title: "E", '
        "description: $d) { id } }",
        {"d": "e" * 5000},
        token,
    )
    events = [await stream.event() for _ in range(4)]  # small's 2, huge's error and complete
    of_huge = [event for event in events if event.data["id"] == "huge"]
    assert [event.kind for event in of_huge] == ["next", "complete"]
    assert "data" not in of_huge[0].data["payload"]
    [error] = of_huge[0].data["payload"]["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("The result is 1.3 MB"), error
    assert "limited to 1 MiB" in error["message"]
    assert [event.kind for event in events if event.data["id"] == "small"] == ["next", "next"]
    # The stream goes on, and so does the other subscription; the ended one is quiet.
    await clients.data('mutation { createTag(name: "T", color: "#abc") { id } }', token=token)
    assert [(await stream.event()).data["id"] for _ in range(2)] == ["small", "small"]
    await stream.nothing_more()
    stream.close()
