"""Limits on signing in and up, per client address, behind a trusted proxy.

The proxy in front (Heroku's router) appends the address it saw to
X-Forwarded-For; these tests set that header as such a proxy would, to
stand for clients at different addresses.
"""

from __future__ import annotations

import asyncio
import urllib.request
from urllib.parse import urlencode

import orjson
import pytest
from tornado.httpclient import AsyncHTTPClient

from app.models import throttle
from app.models.passwords import SIGN_UP_HASHES_WAITING
from app.models.throttle import (
    PER_ADDRESS,
    PER_USERNAME_AND_ADDRESS,
    SIGN_UPS_PER_ADDRESS,
    Throttle,
)
from tests.clients import sign_up
from tests.processes import ServerProcess

SIGN_IN = "mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { token } }"
SIGN_UP = "mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { token } }"
STRANGER = "203.0.113.66"
OWNER = "198.51.100.7"


@pytest.fixture
def settings(settings):
    return settings.with_overrides(trust_proxy=True)


def from_address(address: str) -> dict[str, str]:
    """What the proxy adds: whatever the client sent, then the address it saw."""
    return {"X-Forwarded-For": f"10.9.9.9, {address}"}


async def sign_in(clients, username: str, password: str, address: str):
    return await clients.graphql(
        SIGN_IN, {"u": username, "p": password}, headers=from_address(address)
    )


def code(reply) -> str:
    return reply.body["errors"][0]["extensions"]["code"]


@pytest.mark.gen_test(timeout=60)
async def test_a_strangers_failures_do_not_lock_the_user_out_from_elsewhere(clients):
    await sign_up(clients, "ada", "the right one")
    replies = [await sign_in(clients, "ada", "guess", STRANGER) for _ in range(10)]
    assert [code(reply) for reply in replies[:PER_USERNAME_AND_ADDRESS]] == [
        "UNAUTHENTICATED"
    ] * PER_USERNAME_AND_ADDRESS
    assert {code(reply) for reply in replies[PER_USERNAME_AND_ADDRESS:]} == {"FORBIDDEN"}
    # The owner, elsewhere, signs in; the stranger stays throttled, even
    # with the right password.
    owner = await sign_in(clients, "ada", "the right one", OWNER)
    assert owner.body["data"]["signIn"]["token"]
    again = await sign_in(clients, "ada", "the right one", STRANGER)
    assert code(again) == "FORBIDDEN"
    assert "try again in 15 minutes" in again.body["errors"][0]["message"]


@pytest.mark.gen_test(timeout=60)
async def test_guessing_across_usernames_from_one_address_is_throttled(clients):
    for n in range(PER_ADDRESS):
        assert code(await sign_in(clients, f"nobody{n}", "guess", STRANGER)) == "UNAUTHENTICATED"
    assert code(await sign_in(clients, "somebody_new", "guess", STRANGER)) == "FORBIDDEN"
    assert code(await sign_in(clients, "somebody_new", "guess", OWNER)) == "UNAUTHENTICATED"


@pytest.mark.gen_test(timeout=60)
async def test_an_ipv6_client_is_counted_by_its_slash_64(clients):
    for n in range(PER_ADDRESS):
        reply = await sign_in(clients, f"nobody{n}", "guess", f"2001:db8:1:2::{n + 1:x}")
        assert code(reply) == "UNAUTHENTICATED"
    assert code(await sign_in(clients, "other", "guess", "2001:db8:1:2:ffff::9")) == "FORBIDDEN"
    assert code(await sign_in(clients, "other", "guess", "2001:db8:1:3::1")) == "UNAUTHENTICATED"


def test_a_client_set_x_real_ip_does_not_escape_the_address_limit(tmp_path):
    """Behind the proxy only its last hop counts: X-Real-Ip, which any
    client can send through it, is ignored."""
    with ServerProcess(tmp_path, {"TRUST_PROXY": "1"}) as server:
        codes = []
        for n in range(PER_ADDRESS + 1):
            request = urllib_request(
                server.url,
                {"query": SIGN_IN, "variables": {"u": f"victim{n}", "p": "guess"}},
                {"X-Real-Ip": f"192.0.2.{n + 1}", **from_address(STRANGER)},
            )
            codes.append(read_json(request)["errors"][0]["extensions"]["code"])
    assert codes == ["UNAUTHENTICATED"] * PER_ADDRESS + ["FORBIDDEN"]


def urllib_request(url: str, body: dict, headers: dict[str, str]) -> urllib.request.Request:
    return urllib.request.Request(
        url + "/graphql",
        data=orjson.dumps(body),
        headers={"Content-Type": "application/json", **headers},
    )


def read_json(request: urllib.request.Request) -> dict:
    with urllib.request.urlopen(request, timeout=10) as response:
        return orjson.loads(response.read())


# ------------------------------------------------------------- sign-ups


async def sign_up_from(clients, username: str, address: str, http=None):
    response = await (http or clients.http).fetch(
        clients.base_url + "/graphql",
        method="POST",
        body=orjson.dumps({"query": SIGN_UP, "variables": {"u": username, "p": "correct horse"}}),
        headers={"Content-Type": "application/json", **from_address(address)},
        raise_error=False,
    )
    return orjson.loads(response.body)


@pytest.mark.gen_test(timeout=90)
async def test_sign_ups_are_limited_per_address_with_the_wait(clients):
    for n in range(SIGN_UPS_PER_ADDRESS):
        body = await sign_up_from(clients, f"member{n}", STRANGER)
        assert body["data"]["signUp"]["token"], body
    refused = await sign_up_from(clients, "one_too_many", STRANGER)
    error = refused["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "Too many sign-ups from your address" in error["message"]
    assert "try again in 60 minutes" in error["message"]
    assert 3500 < error["extensions"]["retryAfter"] <= 3600
    # Nothing was made, and another address may still sign up.
    assert "errors" in await sign_up_from(clients, "one_too_many", STRANGER)
    assert (await sign_up_from(clients, "one_too_many", OWNER))["data"]["signUp"]["token"]


@pytest.mark.gen_test(timeout=90)
async def test_a_sign_in_is_not_queued_behind_many_sign_ups(app, clients):
    await sign_up(clients, "regular", "the right one")
    http = AsyncHTTPClient(force_instance=True, max_clients=64)
    finished: list[str] = []

    async def one_sign_up(n: int) -> None:
        body = await sign_up_from(clients, f"newcomer{n}", f"192.0.2.{n + 1}", http)
        assert body["data"]["signUp"]["token"], body
        finished.append(f"sign-up {n}")

    requests = app.settings["services"].requests
    crowd = 12
    try:
        sign_ups = asyncio.gather(*(one_sign_up(n) for n in range(crowd)))
        while len(requests) < crowd:  # every sign-up is in the server
            await asyncio.sleep(0.005)
        reply = await sign_in(clients, "regular", "the right one", OWNER)
        assert reply.body["data"]["signIn"]["token"]
        finished.append("sign-in")
        await sign_ups
    finally:
        http.close()
    assert finished.index("sign-in") < crowd, finished


@pytest.mark.gen_test(timeout=90)
async def test_sign_ups_beyond_the_hashing_queue_are_refused_with_a_sentence(clients):
    http = AsyncHTTPClient(force_instance=True, max_clients=64)
    try:
        bodies = await asyncio.gather(
            *(
                sign_up_from(clients, f"rush{n}", f"192.0.2.{n + 1}", http)
                for n in range(SIGN_UP_HASHES_WAITING + 12)
            )
        )
    finally:
        http.close()
    refused = [body["errors"][0] for body in bodies if "errors" in body]
    made = [body for body in bodies if (body.get("data") or {}).get("signUp")]
    assert refused, "a crowd larger than the queue was all let in"
    assert len(made) >= SIGN_UP_HASHES_WAITING
    assert len(made) + len(refused) == len(bodies)
    for error in refused:
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert "try again in a few seconds" in error["message"]
        assert error["extensions"]["retryAfter"] > 0


# ------------------------------------------------------- the throttle's memory


#: Any value does as the xsrf token, as long as cookie and field agree.
XSRF = "5f1d0c0ffee5f1d0c0ffee"


@pytest.mark.gen_test(timeout=30)
async def test_huge_usernames_do_not_grow_the_throttle(clients):
    # GraphQL refuses strings past 100 000 characters; the form takes more.
    reply = await sign_in(clients, "x" * 99_000, "guess", STRANGER)
    assert code(reply) == "UNAUTHENTICATED"
    page = await clients.fetch(
        "/login",
        method="POST",
        body=urlencode({"_xsrf": XSRF, "username": "y" * 1_000_000, "password": "guess"}),
        headers={"Cookie": f"_xsrf={XSRF}", **from_address(OWNER)},
    )
    assert page.code == 400
    assert "Wrong username or password." in page.body.decode()
    keys = [key for limiter in throttle.limiters() for key in limiter.events]
    assert keys
    assert max(len(key) for key in keys) <= throttle.MAX_KEY_LENGTH


def test_the_throttle_forgets_the_least_recently_failed_keys_first():
    limiter = Throttle(limit=3, window=60, max_keys=3)
    for key in ("a", "b", "c"):
        limiter.count(key)
    limiter.count("a")  # a failed again: now the most recent
    limiter.count("d")
    assert list(limiter.events) == ["c", "a", "d"]
    for n in range(1000):
        limiter.count(f"flood{n}")
    assert len(limiter.events) == 3


def test_the_throttle_keeps_long_keys_short_and_apart():
    limiter = Throttle(limit=2, window=60)
    first, second = "y" * 10_000 + "1", "y" * 10_000 + "2"
    limiter.count(first)
    limiter.count(first)
    limiter.count(second)
    assert all(len(key) <= throttle.MAX_KEY_LENGTH for key in limiter.events)
    assert limiter.wait(first) > 0
    assert limiter.wait(second) == 0
