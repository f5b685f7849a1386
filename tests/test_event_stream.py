"""An event stream's life (app/web/event_stream.py) against the real
server: a keep-alive comment every interval, which clients pass over; and
every open stream counted (`live_open_sockets{kind="sse"}`, /status) until
it ends, whichever way. (The protocol on top: test_graphql_sse.py; the npm
client with frequent keep-alives: test_node_graphql_sse.py.)"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from itertools import pairwise

import orjson
import pytest
from prometheus_client import REGISTRY

from app.config import Settings
from app.shutdown import drain
from tests.clients import sign_up
from tests.sse_client import EventStreamResponse, open_event_stream
from tests.test_graphql_sse import (
    COUNTER,
    INCREMENT,
    LIBRARY,
    TOKEN_HEADER,
    post_operation,
    reserve,
    subscribe,
)
from tests.test_metrics import scrape, value

#: Short, so that an idle stream gets several in a test's second.
KEEP_ALIVE = 0.2
IDLE = 1.5
MODES = pytest.mark.parametrize("single", [False, True], ids=["distinct", "single"])


async def open_single(
    clients, operations: dict[str, str], token: str | None = None
) -> EventStreamResponse:
    """A reserved stream (single connection mode), open, running
    `operations` (id -> document)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    stream_token = await reserve(clients, token)
    stream = await open_event_stream(
        clients.base_url, headers={TOKEN_HEADER: stream_token, **headers}
    )
    assert stream.status == 200
    for op_id, query in operations.items():
        body = {"query": query, "extensions": {"operationId": op_id}}
        assert (await post_operation(clients, stream_token, body, token)).code == 202
    return stream


class TestKeepAlive:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return replace(settings, event_stream_keep_alive=KEEP_ALIVE)

    @MODES
    @pytest.mark.gen_test(timeout=30)
    async def test_an_idle_stream_gets_a_comment_every_interval_and_its_events_read_as_before(
        self, clients, registry, single
    ):
        if single:
            stream = await open_single(clients, {"watch": COUNTER})
        else:
            stream = await subscribe(clients, COUNTER)
        for _ in range(250):  # until the subscription listens
            if ("counter", "sse") in registry.topics():
                break
            await asyncio.sleep(0.02)
        await stream.nothing_more(IDLE)  # idle: comments only
        times = stream.comment_times  # the opening comment's, then each keep-alive's
        gaps = [later - earlier for earlier, later in pairwise(times)]
        assert len(gaps) >= IDLE / KEEP_ALIVE - 3, gaps  # (a busy machine may skip one)
        assert all(gap > KEEP_ALIVE / 2 for gap in gaps), gaps  # never faster than the interval
        assert sorted(gaps)[len(gaps) // 2] == pytest.approx(KEEP_ALIVE, abs=0.08), gaps
        # The comments disturb nothing: the next event reads as it would without them.
        await clients.data(INCREMENT)
        event = await stream.event()
        payload = event.data["payload"] if single else event.data
        assert event.kind == "next"
        assert payload["data"] == {"counter": {"value": 1}}
        assert event.id == "1:" + payload["extensions"]["stream"]["epoch"]
        stream.close()


# ------------------------------------------------------------- counted


async def open_streams(clients) -> float:
    """`live_open_sockets{kind="sse"}` as /metrics says it now."""
    return value(await scrape(clients), "live_open_sockets", kind="sse")


async def streams_become(clients, expected: float) -> None:
    """Until /metrics counts `expected` open event streams (ends are noticed
    as the loop turns); fails saying how many it counts."""
    for _ in range(250):
        if (counted := await open_streams(clients)) == expected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{counted} event streams counted, not {expected}")


@pytest.mark.gen_test(timeout=30)
async def test_a_stream_counts_while_open_and_not_once_its_client_hangs_up_or_signs_out(clients):
    before = await open_streams(clients)
    token = await sign_up(clients, "counted")
    distinct = await subscribe(clients, COUNTER)
    single = await open_single(clients, {"library": LIBRARY}, token)
    await streams_become(clients, before + 2)
    distinct.close()  # the client is gone
    await streams_become(clients, before + 1)
    await clients.data("mutation { signOut }", token=token)
    assert await single.ended() == []  # the server ended it
    await streams_become(clients, before)
    # A query's stream, ended by the server once answered, is not left counted.
    query = await subscribe(clients, '{ counter(name: "sse") { value } }')
    assert [event.kind for event in await query.ended()] == ["next", "complete"]
    await streams_become(clients, before)


async def until_status(clients, condition) -> None:
    """Until /status.json's samples (one a second) meet `condition`."""
    for _ in range(60):
        response = await clients.fetch("/status.json")
        samples = orjson.loads(response.body)["samples"]
        if condition(samples):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"/status.json never got there: {samples[-3:]}")


@pytest.mark.gen_test(timeout=30)
async def test_the_status_page_counts_open_streams_among_connections(clients):
    async def connections() -> int:
        response = await clients.fetch("/status.json")
        return orjson.loads(response.body)["samples"][-1]["connections"]

    await until_status(clients, lambda samples: bool(samples))
    before = await connections()
    streams = [await subscribe(clients, COUNTER), await open_single(clients, {"w": COUNTER})]
    await until_status(clients, lambda samples: samples[-1]["connections"] == before + 2)
    for stream in streams:
        stream.close()
    await until_status(clients, lambda samples: samples[-1]["connections"] == before)


@pytest.mark.gen_test(timeout=30)
async def test_a_shutdown_ends_every_stream_and_leaves_none_counted(clients, app, http_server):
    before = await open_streams(clients)
    token = await sign_up(clients, "stopped")
    streams = [
        await subscribe(clients, COUNTER),
        await subscribe(clients, LIBRARY, token),
        await open_single(clients, {"w": COUNTER}),
    ]
    await streams_become(clients, before + 3)
    await drain(http_server, app.settings["services"])  # what SIGTERM runs
    for stream in streams:
        assert await stream.ended() == []
    # (/metrics is not served any more: the gauge read in this process.)
    assert REGISTRY.get_sample_value("live_open_sockets", {"kind": "sse"}) == before
