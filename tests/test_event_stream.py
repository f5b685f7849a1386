"""An event stream's life (app/web/event_stream.py) against the real
server: a keep-alive comment every interval, which clients pass over.
(The protocol on top: test_graphql_sse.py; the npm client with frequent
keep-alives: test_node_graphql_sse.py.)"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from itertools import pairwise

import pytest

from app.config import Settings
from tests.sse_client import EventStreamResponse, open_event_stream
from tests.test_graphql_sse import (
    COUNTER,
    INCREMENT,
    TOKEN_HEADER,
    post_operation,
    reserve,
    subscribe,
)

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
