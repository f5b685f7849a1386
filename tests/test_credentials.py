"""Credentials: sign-in attempts are limited, secrets never reach the logs."""

from __future__ import annotations

import logging

import pytest

from app.models.throttle import PER_ADDRESS, PER_USERNAME_AND_ADDRESS
from tests.clients import bearer, open_graphql_socket, sign_up

SIGN_IN = "mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { token } }"


async def sign_in(clients, username: str, password: str):
    return await clients.graphql(SIGN_IN, {"u": username, "p": password})


@pytest.mark.gen_test(timeout=30)
async def test_failed_sign_ins_are_limited_per_username_and_address_with_the_wait(clients):
    await sign_up(clients, "target", "the right one")
    await sign_up(clients, "bystander", "also right")
    for _ in range(PER_USERNAME_AND_ADDRESS):
        reply = await sign_in(clients, "target", "guess")
        assert reply.body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    blocked = await sign_in(clients, "TARGET", "the right one")  # even the right password
    error = blocked.body["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "try again in 15 minutes" in error["message"]
    assert 800 < error["extensions"]["retryAfter"] <= 900
    # Another account from the same address is unaffected.
    assert "token" in (await sign_in(clients, "bystander", "also right")).body["data"]["signIn"]


@pytest.mark.gen_test(timeout=60)
async def test_failed_sign_ins_are_limited_per_address(clients):
    for n in range(PER_ADDRESS):
        reply = await sign_in(clients, f"nobody{n}", "guess")
        assert reply.body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    blocked = await sign_in(clients, "somebody-new", "guess")
    assert blocked.body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.gen_test(timeout=30)
async def test_a_successful_sign_in_clears_the_usernames_count(clients):
    await sign_up(clients, "forgetful", "the right one")
    for _ in range(PER_USERNAME_AND_ADDRESS - 1):
        await sign_in(clients, "forgetful", "guess")
    assert "data" in (await sign_in(clients, "forgetful", "the right one")).body
    for _ in range(PER_USERNAME_AND_ADDRESS - 1):
        await sign_in(clients, "forgetful", "guess")
    assert (await sign_in(clients, "forgetful", "the right one")).body["data"]["signIn"]["token"]


@pytest.mark.gen_test(timeout=30)
async def test_tokens_and_passwords_never_reach_the_logs(clients, caplog):
    caplog.set_level(logging.DEBUG)
    password = "a very secret passphrase"
    token = await sign_up(clients, "quiet", password)
    await clients.graphql("{ viewer { username } }", headers=bearer(token))
    await sign_in(clients, "quiet", "a wrong secret passphrase")
    socket = await clients.counter_socket("logged", token=token)
    await socket.send({"type": "increment"})
    await socket.receive()
    graphql = await open_graphql_socket(clients)
    await graphql.send({"type": "connection_init", "payload": {"token": token}})
    await graphql.receive()
    await clients.fetch(f"/no-such-page?token={token}")
    # A request that fails inside the server logs its path, not its query string.
    await clients.graphql("{ viewer { username } }", headers=bearer("not-" + token))
    text = caplog.text
    assert caplog.records  # something was logged, and none of it is a secret
    for secret in (token, password, "a wrong secret passphrase"):
        assert secret not in text
