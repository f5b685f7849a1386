"""Exactly-once account changes: `clientMutationId` on signUp, signIn,
signOut, followCounter and unfollowCounter. A retry (the answer was lost)
gets the first answer and applies nothing again: a retried sign-up or
sign-in leaves one live session, a retried sign-out is true again, a
retried follow does not follow again. On a SQLite file and on PostgreSQL;
across two processes in tests/test_account_exactly_once_scale_out.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.config import Settings
from app.models.auth_token import AuthToken
from app.models.user import User
from tests.clients import Clients, Reply, bearer, sign_up
from tests.databases import DATABASES, settings_on
from tests.test_notifications import notifications_socket

#: pytest-tornado finds `app` at run time; naming it here lets pytest see
#: that every test depends on the parametrised `settings` below.
pytestmark = pytest.mark.usefixtures("app")

SIGN_UP = """mutation($u: String!, $p: String!, $k: String) {
  signUp(username: $u, password: $p, clientMutationId: $k) { token user { id username } }
}"""
SIGN_IN = """mutation($u: String!, $p: String!, $k: String) {
  signIn(username: $u, password: $p, clientMutationId: $k) { token user { id username } }
}"""
SIGN_OUT = "mutation($k: String) { signOut(clientMutationId: $k) }"
FOLLOW = "mutation($n: String!, $k: String) { followCounter(name: $n, clientMutationId: $k) { name value } }"
UNFOLLOW = "mutation($n: String!, $k: String) { unfollowCounter(name: $n, clientMutationId: $k) { name value } }"
FOLLOWING = "{ following(first: 100) { edges { node { name } } } }"
VIEWER = "{ viewer { username } }"
PASSWORD = "correct horse"


@pytest.fixture(params=DATABASES)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The in-process server, once on a SQLite file and once on PostgreSQL."""
    return settings_on(request, tmp_path)


async def ask(clients: Clients, query: str, variables: dict[str, Any], token: str | None = None):
    return await clients.graphql(query, variables, headers=bearer(token) if token else None)


async def signed_up(clients: Clients, username: str, key: str | None, password: str = PASSWORD):
    return await ask(clients, SIGN_UP, {"u": username, "p": password, "k": key})


async def signed_in(clients: Clients, username: str, key: str | None, password: str = PASSWORD):
    return await ask(clients, SIGN_IN, {"u": username, "p": password, "k": key})


def answer(reply: Reply, field: str) -> dict[str, Any]:
    assert reply.status == 200, reply.body
    assert "errors" not in reply.body, reply.body
    return reply.body["data"][field]


def refusal(reply: Reply) -> dict[str, Any]:
    (error,) = reply.body["errors"]
    return error


async def works(clients: Clients, token: str) -> bool:
    """Whether a token is a live session, as its holder finds out."""
    reply = await clients.graphql(VIEWER, headers=bearer(token))
    if reply.status == 401:
        return False
    assert reply.body["data"]["viewer"] is not None, reply.body
    return True


def live_sessions(username: str) -> int:
    user = User.by_username(username)
    assert user is not None
    return (
        AuthToken.select()
        .where((AuthToken.user == user.id) & AuthToken.revoked_at.is_null())
        .count()
    )


async def followed(clients: Clients, token: str) -> list[str]:
    data = await clients.data(FOLLOWING, token=token)
    return [edge["node"]["name"] for edge in data["following"]["edges"]]


# ------------------------------------------------------------------ signUp


@pytest.mark.gen_test(timeout=30)
async def test_a_retried_sign_up_gets_its_account_and_leaves_one_live_session(clients):
    first = answer(await signed_up(clients, "ada_retry", "up-1"), "signUp")
    again_reply = await signed_up(clients, "ada_retry", "up-1")
    again = answer(again_reply, "signUp")
    assert again["user"] == first["user"]
    assert again["token"] != first["token"]
    assert again_reply.headers["Set-Cookie"].startswith("session=")
    # The lost answer's token is revoked; the retry's is the one session.
    assert not await works(clients, first["token"])
    assert await works(clients, again["token"])
    assert live_sessions("ada_retry") == 1
    assert User.select().where(User.username_key == "ada_retry").count() == 1
    # A third attempt: still one.
    third = answer(await signed_up(clients, "ADA_retry", "up-1"), "signUp")
    assert third["user"] == first["user"]
    assert not await works(clients, again["token"])
    assert live_sessions("ada_retry") == 1


@pytest.mark.gen_test(timeout=30)
async def test_a_sign_up_retry_without_the_password_is_told_only_that_the_name_is_taken(clients):
    made = answer(await signed_up(clients, "guarded", "up-2"), "signUp")
    unkeyed = await signed_up(clients, "guarded", None, "not the password")
    wrong = await signed_up(clients, "guarded", "up-2", "not the password")
    # Exactly what a sign-up of a taken name without a key hears.
    assert wrong.body == unkeyed.body
    assert refusal(wrong)["extensions"]["code"] == "BAD_USER_INPUT"
    assert "is taken" in refusal(wrong)["message"]
    assert "Set-Cookie" not in wrong.headers
    # The right password with a key this sign-up never used: taken, too.
    other_key = await signed_up(clients, "guarded", "never-used")
    assert other_key.body == (await signed_up(clients, "guarded", None)).body
    # Nothing changed: the first session lives, and is the only one.
    assert await works(clients, made["token"])
    assert live_sessions("guarded") == 1


@pytest.mark.gen_test(timeout=30)
async def test_sign_ups_of_a_taken_name_with_unused_keys_spend_no_sign_in_attempts(clients):
    await signed_up(clients, "spared", "up-3")
    unkeyed = await signed_up(clients, "spared", None, "not the password")
    # More than the sign-in limit allows failures (app.models.throttle):
    # each is told the name is taken, as without a key, never "too many".
    for attempt in range(8):
        tried = await signed_up(clients, "spared", f"guess-{attempt}", "not the password")
        assert tried.body == unkeyed.body
    signed_in = await clients.graphql(
        'mutation($p: String!) { signIn(username: "spared", password: $p) { token } }',
        {"p": PASSWORD},
    )
    assert "errors" not in signed_in.body, signed_in.body


@pytest.mark.gen_test(timeout=30)
async def test_sign_up_keys_are_each_accounts_own(clients):
    ada = answer(await signed_up(clients, "ada_own", "shared-key"), "signUp")
    bob = answer(await signed_up(clients, "bob_own", "shared-key"), "signUp")
    assert ada["user"]["id"] != bob["user"]["id"]
    assert await works(clients, ada["token"])
    assert await works(clients, bob["token"])


# ------------------------------------------------------------------ signIn


@pytest.mark.gen_test(timeout=30)
async def test_a_retried_sign_in_revokes_the_lost_answers_token(clients):
    signed = await sign_up(clients, "returning")
    first = answer(await signed_in(clients, "returning", "in-1"), "signIn")
    again = answer(await signed_in(clients, "RETURNING", "in-1"), "signIn")
    assert again["user"] == first["user"]
    assert not await works(clients, first["token"])
    assert await works(clients, again["token"])
    # The sign-up's session and the sign-in's: two, not three.
    assert await works(clients, signed)
    assert live_sessions("returning") == 2
    # A new key is a new session.
    other = answer(await signed_in(clients, "returning", "in-2"), "signIn")
    assert await works(clients, other["token"])
    assert await works(clients, again["token"])
    assert live_sessions("returning") == 3


@pytest.mark.gen_test(timeout=30)
async def test_a_sign_in_retry_with_a_wrong_password_is_refused_and_changes_nothing(clients):
    await sign_up(clients, "careful")
    first = answer(await signed_in(clients, "careful", "in-3"), "signIn")
    wrong = await signed_in(clients, "careful", "in-3", "not the password")
    unkeyed = await signed_in(clients, "careful", None, "not the password")
    assert wrong.body == unkeyed.body
    assert refusal(wrong)["extensions"]["code"] == "UNAUTHENTICATED"
    assert await works(clients, first["token"])
    assert live_sessions("careful") == 2


# ----------------------------------------------------------------- signOut


@pytest.mark.gen_test(timeout=30)
async def test_a_retried_sign_out_presenting_the_revoked_token_is_true_again(clients):
    token = await sign_up(clients, "leaving_once")
    first = await ask(clients, SIGN_OUT, {"k": "out-1"}, token)
    assert first.body == {"data": {"signOut": True}}
    again = await ask(clients, SIGN_OUT, {"k": "out-1"}, token)
    assert again.status == 200
    assert again.body == first.body
    assert "session=" in again.headers["Set-Cookie"]  # the cookie is cleared again
    # The token stays revoked: for anything else it is refused as before.
    assert not await works(clients, token)
    assert live_sessions("leaving_once") == 0
    # Without the key (or with another) this token signs nothing out.
    assert (await ask(clients, SIGN_OUT, {"k": None}, token)).body == {"data": {"signOut": False}}
    assert (await ask(clients, SIGN_OUT, {"k": "out-2"}, token)).body == {
        "data": {"signOut": False}
    }
    # Nor does anyone else's request, with or without the key.
    assert (await ask(clients, SIGN_OUT, {"k": "out-1"})).body == {"data": {"signOut": False}}
    stranger = await sign_up(clients, "stranger_out")
    assert (await ask(clients, SIGN_OUT, {"k": "out-1"}, stranger)).body["data"]["signOut"]
    assert not await works(clients, stranger)  # that was the stranger's own sign-out


@pytest.mark.gen_test(timeout=30)
async def test_a_retried_sign_out_with_the_session_cookie_is_true_again(clients):
    reply = await signed_up(clients, "cookie_out", None)
    cookie = reply.headers["Set-Cookie"].split(";")[0]
    headers = {"Cookie": cookie}
    first = await clients.graphql(SIGN_OUT, {"k": "out-c"}, headers=headers)
    again = await clients.graphql(SIGN_OUT, {"k": "out-c"}, headers=headers)
    assert first.body == again.body == {"data": {"signOut": True}}
    assert (await clients.graphql(VIEWER, headers=headers)).body == {"data": {"viewer": None}}
    plain = await clients.graphql(SIGN_OUT, {"k": None}, headers=headers)
    assert plain.body == {"data": {"signOut": False}}


@pytest.mark.gen_test(timeout=30)
async def test_a_revoked_token_is_still_refused_outside_a_sign_out(clients):
    token = await sign_up(clients, "revoked_elsewhere")
    await ask(clients, SIGN_OUT, {"k": "out-3"}, token)
    for query in (
        VIEWER,
        'mutation { signOut(clientMutationId: "out-3") followCounter(name: "x") { name } }',
        'mutation { followCounter(name: "x", clientMutationId: "out-3") { name } }',
    ):
        reply = await clients.graphql(query, headers=bearer(token))
        assert reply.status == 401, (query, reply.body)
        assert refusal(reply)["extensions"]["code"] == "UNAUTHENTICATED"
    # A request that cannot run at all hears of the token first, as before.
    malformed = await clients.fetch(
        "/graphql",
        method="POST",
        body=b"{not json",
        headers={"Content-Type": "application/json", **bearer(token)},
    )
    assert malformed.code == 401


# ----------------------------------------------------------------- follows


@pytest.mark.gen_test(timeout=30)
async def test_a_retried_follow_changes_nothing_even_after_an_unfollow(clients, registry):
    token = await sign_up(clients, "fan_once")
    other = await sign_up(clients, "other_fan")
    first = answer(await ask(clients, FOLLOW, {"n": "kept", "k": "f-1"}, token), "followCounter")
    again = answer(await ask(clients, FOLLOW, {"n": "kept", "k": "f-1"}, token), "followCounter")
    assert again == first == {"name": "kept", "value": 0}
    assert await followed(clients, token) == ["kept"]
    await ask(clients, UNFOLLOW, {"n": "kept", "k": "u-1"}, token)
    # The follow's answer was lost, and it is retried after the unfollow.
    late = answer(await ask(clients, FOLLOW, {"n": "kept", "k": "f-1"}, token), "followCounter")
    assert late == first
    assert await followed(clients, token) == []
    # So another's change to it is not told to this user.
    socket = await notifications_socket(clients, registry, token, "fan_once")
    await clients.data('mutation { incrementCounter(name: "kept") { value } }', token=other)
    await socket.nothing_more()
    # And the other way: a retried unfollow after a later follow.
    await ask(clients, FOLLOW, {"n": "kept", "k": "f-2"}, token)
    answer(await ask(clients, UNFOLLOW, {"n": "kept", "k": "u-1"}, token), "unfollowCounter")
    assert await followed(clients, token) == ["kept"]


@pytest.mark.gen_test(timeout=30)
async def test_follow_keys_are_each_users_own(clients):
    ada = await sign_up(clients, "ada_follows")
    bob = await sign_up(clients, "bob_follows")
    await ask(clients, FOLLOW, {"n": "hers", "k": "same"}, ada)
    answer(await ask(clients, FOLLOW, {"n": "his", "k": "same"}, bob), "followCounter")
    assert await followed(clients, ada) == ["hers"]
    assert await followed(clients, bob) == ["his"]


@pytest.mark.gen_test(timeout=30)
async def test_a_follow_refused_keeps_no_key(clients):
    token = await sign_up(clients, "bad_name_fan")
    bad = await ask(clients, FOLLOW, {"n": "", "k": "f-bad"}, token)
    assert refusal(bad)["extensions"]["code"] == "BAD_USER_INPUT"
    # The key was not used up by the refused change.
    answer(await ask(clients, FOLLOW, {"n": "fine", "k": "f-bad"}, token), "followCounter")
    assert await followed(clients, token) == ["fine"]


# ------------------------------------------------- one key, another change


@pytest.mark.gen_test(timeout=30)
async def test_the_same_key_for_a_different_change_is_refused_and_changes_nothing(clients):
    token = answer(await signed_up(clients, "one_key", "k"), "signUp")["token"]

    def refused(reply: Reply) -> None:
        error = refusal(reply)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert "already used for another change" in error["message"]

    # The sign-up's key, for a follow, an unfollow, a sign-in, a sign-out.
    refused(await ask(clients, FOLLOW, {"n": "a", "k": "k"}, token))
    refused(await ask(clients, UNFOLLOW, {"n": "a", "k": "k"}, token))
    refused(await signed_in(clients, "one_key", "k"))
    refused(await ask(clients, SIGN_OUT, {"k": "k"}, token))
    # A follow's key, for another counter or an unfollow.
    answer(await ask(clients, FOLLOW, {"n": "a", "k": "f"}, token), "followCounter")
    refused(await ask(clients, FOLLOW, {"n": "b", "k": "f"}, token))
    refused(await ask(clients, UNFOLLOW, {"n": "a", "k": "f"}, token))
    # A sign-up with it is no retry of this account's sign-up: the name is
    # taken, as a sign-up without a key is told.
    assert "is taken" in refusal(await signed_up(clients, "one_key", "f"))["message"]
    assert await followed(clients, token) == ["a"]
    assert await works(clients, token)
    assert live_sessions("one_key") == 1


@pytest.mark.parametrize("key", ["", "x" * 101, "tab\there"])
@pytest.mark.gen_test(timeout=30)
async def test_a_malformed_key_is_refused_and_changes_nothing(clients, key):
    token = await sign_up(clients, "keyholder")
    await clients.data('mutation { followCounter(name: "held") { name } }', token=token)
    replies = [
        await signed_up(clients, "never_made", key),
        await signed_in(clients, "keyholder", key),
        await ask(clients, SIGN_OUT, {"k": key}, token),
        await ask(clients, FOLLOW, {"n": "other", "k": key}, token),
        await ask(clients, UNFOLLOW, {"n": "held", "k": key}, token),
        # Checked before anything else: signed out too.
        await ask(clients, FOLLOW, {"n": "other", "k": key}),
    ]
    for reply in replies:
        error = refusal(reply)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert "1 to 100 printable characters" in error["message"]
    assert User.by_username("never_made") is None
    assert await works(clients, token)
    assert live_sessions("keyholder") == 1
    assert await followed(clients, token) == ["held"]


# ------------------------------------------------------------- at once


@pytest.mark.gen_test(timeout=60)
async def test_retries_of_one_key_at_once_apply_once(clients):
    ups = await asyncio.gather(*(signed_up(clients, "racer", "race-up") for _ in range(3)))
    users = {answer(reply, "signUp")["user"]["id"] for reply in ups}
    assert len(users) == 1
    alive = [await works(clients, answer(reply, "signUp")["token"]) for reply in ups]
    assert alive.count(True) == 1
    assert live_sessions("racer") == 1

    ins = await asyncio.gather(*(signed_in(clients, "racer", "race-in") for _ in range(3)))
    alive = [await works(clients, answer(reply, "signIn")["token"]) for reply in ins]
    assert alive.count(True) == 1
    assert live_sessions("racer") == 2

    token = next(answer(r, "signIn")["token"] for r, ok in zip(ins, alive, strict=True) if ok)
    follows = await asyncio.gather(
        *(ask(clients, FOLLOW, {"n": "raced", "k": "race-f"}, token) for _ in range(3))
    )
    assert {orjson.dumps(reply.body) for reply in follows} == {
        orjson.dumps({"data": {"followCounter": {"name": "raced", "value": 0}}})
    }
    outs = await asyncio.gather(
        *(ask(clients, SIGN_OUT, {"k": "race-out"}, token) for _ in range(3))
    )
    assert [reply.body for reply in outs] == [{"data": {"signOut": True}}] * 3
    assert live_sessions("racer") == 1
