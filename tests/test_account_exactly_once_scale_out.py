"""Exactly-once account changes across two server processes: a client
retrying on another node sends the same keyed sign-up, sign-in, follow and
sign-out to both at once, and each applies once."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from tornado.httpclient import AsyncHTTPClient

from tests.clients import bearer
from tests.test_account_exactly_once import FOLLOW, PASSWORD, SIGN_IN, SIGN_OUT, SIGN_UP, VIEWER


@pytest.mark.gen_test(timeout=120)
async def test_two_processes_apply_each_account_key_once_when_both_are_asked(pair):
    """Each sign-up, sign-in and sign-out goes to both processes at once, as
    a client retrying on another node would: one account, one live session
    per key, and both answers name the same user."""
    first, second = pair
    http = AsyncHTTPClient()

    async def send(process, query: str, variables: dict, token: str | None = None) -> Any:
        response = await http.fetch(
            process.url + "/graphql",
            method="POST",
            body=orjson.dumps({"query": query, "variables": variables}),
            headers={"Content-Type": "application/json", **(bearer(token) if token else {})},
            raise_error=False,
        )
        return response.code, orjson.loads(response.body)

    async def both(query: str, variables: dict, token: str | None = None) -> list[Any]:
        replies = await asyncio.gather(
            send(first, query, variables, token), send(second, query, variables, token)
        )
        for status, body in replies:
            assert status == 200, body
            assert "errors" not in body, body
        return [body["data"] for _, body in replies]

    async def alive(token: str) -> bool:
        status, _ = await send(second, VIEWER, {}, token)
        return status == 200

    for number in range(4):
        username = f"twice_{number}"
        ups = await both(SIGN_UP, {"u": username, "p": PASSWORD, "k": f"up-{number}"})
        assert ups[0]["signUp"]["user"] == ups[1]["signUp"]["user"]
        assert [await alive(up["signUp"]["token"]) for up in ups].count(True) == 1
        ins = await both(SIGN_IN, {"u": username, "p": PASSWORD, "k": f"in-{number}"})
        tokens = [reply["signIn"]["token"] for reply in ins]
        live = [token for token in tokens if await alive(token)]
        assert len(live) == 1
        token = live[0]
        follows = await both(FOLLOW, {"n": f"c{number}", "k": f"f-{number}"}, token)
        assert follows[0] == follows[1]
        # Two live sessions now (the sign-up's, the sign-in's); one signs out.
        outs = await both(SIGN_OUT, {"k": f"out-{number}"}, token)
        assert outs == [{"signOut": True}] * 2
        assert not await alive(token)
