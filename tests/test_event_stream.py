"""An event stream's life (app/web/event_stream.py) against the real
server: a keep-alive comment every interval, which clients pass over;
every open stream counted (`live_open_sockets{kind="sse"}`, /status) until
it ends, whichever way; and a client that stops reading cut off, its
connection let go of, while the server carries on. (The protocol on top:
test_graphql_sse.py; the npm client with frequent keep-alives:
test_node_graphql_sse.py.)"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from itertools import pairwise

import orjson
import psutil
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


# -------------------------------------------------------- slow clients

#: ~750 KB per story created: 150 copies of its 5,000-character description.
BIG_EVENTS = (
    'subscription { channel(name: "library") { ... on StoryCreateEvent { '
    + " ".join(f"c{n}: story {{ description }}" for n in range(150))
    + " } ... on LibraryChangeEvent { totalStories } } }"
)


async def create_big_story(clients, token: str, number: int) -> None:
    await clients.data(
        'mutation($u: String!, $d: String) { createStory(url: $u, title: "Big", description: $d) { id } }',
        {"u": f"https://example.com/{number}", "d": "d" * 5000},
        token,
    )


def stalled_stream(port: int, token: str, query: str) -> socket.socket:
    """An event stream's client that sends its request, then never reads."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", port))
    body = orjson.dumps({"query": query})
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    raw.sendall(head.encode() + body)
    return raw


def served(port: int, client: socket.socket) -> bool:
    """Whether this process (the server) still holds a connection to `client`."""
    client_port = client.getsockname()[1]
    return any(
        found.laddr and found.laddr.port == port and found.raddr and found.raddr.port == client_port
        for found in psutil.Process().net_connections("tcp")
    )


def read_to_the_end(raw: socket.socket) -> bytes:
    raw.settimeout(10)
    received = b""
    while chunk := raw.recv(65536):
        received += chunk
    return received


@pytest.mark.gen_test(timeout=60)
async def test_a_stream_whose_client_stops_reading_is_cut_off_and_the_server_lets_go_of_it(
    clients, http_port
):
    token = await sign_up(clients, "stalled")
    before = await open_streams(clients)
    cut_before = value(await scrape(clients), "live_slow_consumer_disconnects_total")
    healthy = await subscribe(clients, BIG_EVENTS, token)
    stalled = stalled_stream(http_port, token, BIG_EVENTS)
    try:
        await streams_become(clients, before + 2)
        assert served(http_port, stalled)
        created = 0
        while await open_streams(clients) == before + 2:
            created += 1
            assert created <= 20, "the stalled stream was never cut off"
            await create_big_story(clients, token, created)
            events = [await healthy.event(), await healthy.event()]
            assert [len(event.data["data"]["channel"]) for event in events] == [150, 1]
        # Cut off after a few events (over 1 MiB waited), and let go of at
        # once: nothing more is kept for a client that does not read.
        assert created <= 10
        await streams_become(clients, before + 1)
        for _ in range(100):
            if not served(http_port, stalled):
                break
            await asyncio.sleep(0.02)
        assert not served(http_port, stalled)
        after = await scrape(clients)
        assert value(after, "live_slow_consumer_disconnects_total") == cut_before + 1
        # The server is well, and so is the other stream.
        assert (await clients.fetch("/healthz")).code == 200
        await create_big_story(clients, token, created + 1)
        assert (await healthy.event()).data["data"]["channel"]["c0"]["description"]
        assert (await healthy.event()).data["data"]["channel"]["totalStories"] == created + 1
        # The stalled client, reading at last, finds its stream ended part-way.
        received = await asyncio.to_thread(read_to_the_end, stalled)
        assert received.startswith(b"HTTP/1.1 200")
        assert 0 < received.count(b"event: next") < 2 * created
        assert b"event: complete" not in received
        healthy.close()
    finally:
        stalled.close()
