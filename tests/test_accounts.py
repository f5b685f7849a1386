"""Accounts over HTTP: signing up, in and out; tokens, cookies, actors."""

from __future__ import annotations

import orjson
import pytest

from app.models.auth_token import AuthToken
from app.models.user import User
from tests.clients import bearer, sign_up

SIGN_UP = "mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { token user { id username createdAt } } }"
SIGN_IN = "mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { token user { username } } }"


def session_cookie(headers: dict[str, str]) -> str:
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("session=")
    return cookie


@pytest.mark.gen_test
async def test_sign_up_returns_a_token_that_identifies_the_user(clients):
    reply = await clients.graphql(SIGN_UP, {"u": "Ada_Lovelace", "p": "analytical engine"})
    payload = reply.body["data"]["signUp"]
    assert payload["user"]["username"] == "Ada_Lovelace"
    assert payload["user"]["createdAt"].endswith("Z")
    viewer = await clients.data("{ viewer { id username } }", token=payload["token"])
    assert viewer["viewer"] == {"id": payload["user"]["id"], "username": "Ada_Lovelace"}
    # The node interface finds the viewer too (and nobody else: test_api_input).
    node = await clients.data(
        "query($id: ID!) { node(id: $id) { ... on User { username } } }",
        {"id": payload["user"]["id"]},
        token=payload["token"],
    )
    assert node["node"] == {"username": "Ada_Lovelace"}


@pytest.mark.gen_test
async def test_passwords_and_tokens_are_stored_only_as_hashes(clients):
    token = await sign_up(clients, "hashed", "plain text secret")
    user = User.by_username("hashed")
    assert user.password_hash.startswith("$argon2id$")
    assert "plain text secret" not in user.password_hash
    stored = [row.token_hash for row in AuthToken.select()]
    assert len(stored) == 1
    assert token not in stored[0]


@pytest.mark.gen_test
async def test_signing_up_sets_an_httponly_samesite_session_cookie(clients):
    reply = await clients.graphql(SIGN_UP, {"u": "cookie", "p": "correct horse"})
    cookie = session_cookie(reply.headers)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here; set behind https
    viewer = await clients.graphql(
        "{ viewer { username } }", headers={"Cookie": cookie.split(";")[0]}
    )
    assert viewer.body == {"data": {"viewer": {"username": "cookie"}}}


@pytest.mark.gen_test
async def test_anonymous_viewer_is_null(clients):
    assert await clients.data("{ viewer { username } }") == {"viewer": None}


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("ab", "long enough", "3 to 32 characters"),
        ("x" * 33, "long enough", "3 to 32 characters"),
        ("has space", "long enough", "3 to 32 characters"),
        ("dot.ted", "long enough", "3 to 32 characters"),
        ("émile", "long enough", "3 to 32 characters"),
        ("shortpw", "1234567", "at least 8 characters"),
        ("hugepw", "x" * 1025, "at most 1024 characters"),
    ],
)
@pytest.mark.gen_test
async def test_sign_up_rules_each_have_a_clear_message(clients, username, password, message):
    reply = await clients.graphql(SIGN_UP, {"u": username, "p": password})
    error = reply.body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in error["message"]
    assert User.select().count() == 0


@pytest.mark.gen_test
async def test_usernames_are_unique_regardless_of_case(clients):
    await sign_up(clients, "Grace")
    reply = await clients.graphql(SIGN_UP, {"u": "gRACE", "p": "correct horse"})
    error = reply.body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "taken" in error["message"]


@pytest.mark.gen_test
async def test_sign_in_works_with_any_case_of_the_username(clients):
    await sign_up(clients, "Linus", "penguins rule")
    reply = await clients.graphql(SIGN_IN, {"u": "linus", "p": "penguins rule"})
    assert reply.body["data"]["signIn"]["user"]["username"] == "Linus"
    session_cookie(reply.headers)


@pytest.mark.gen_test
async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(clients):
    await sign_up(clients, "known", "right password")
    wrong = await clients.graphql(SIGN_IN, {"u": "known", "p": "wrong password"})
    unknown = await clients.graphql(SIGN_IN, {"u": "nobody", "p": "wrong password"})
    assert wrong.body == unknown.body
    assert wrong.body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Set-Cookie" not in wrong.headers


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 300],
)
@pytest.mark.gen_test
async def test_an_invalid_bearer_token_gets_401_unauthenticated(clients, authorization):
    reply = await clients.graphql(
        "{ viewer { username } }", headers={"Authorization": authorization}
    )
    assert reply.status == 401
    assert reply.body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in reply.body


@pytest.mark.gen_test
async def test_a_stale_session_cookie_counts_as_anonymous(clients):
    reply = await clients.graphql(SIGN_UP, {"u": "stale", "p": "correct horse"})
    cookie = session_cookie(reply.headers).split(";")[0]
    token = reply.body["data"]["signUp"]["token"]
    assert (await clients.data("mutation { signOut }", token=token)) == {"signOut": True}
    after = await clients.graphql("{ viewer { username } }", headers={"Cookie": cookie})
    assert after.status == 200
    assert after.body == {"data": {"viewer": None}}
    forged = await clients.graphql("{ viewer { username } }", headers={"Cookie": "session=forged"})
    assert forged.body == {"data": {"viewer": None}}


@pytest.mark.gen_test
async def test_sign_out_revokes_the_token_and_clears_the_cookie(clients):
    token = await sign_up(clients, "leaving")
    reply = await clients.graphql("mutation { signOut }", headers=bearer(token))
    assert reply.body == {"data": {"signOut": True}}
    assert (
        "session=;" in reply.headers["Set-Cookie"] or 'session="";' in reply.headers["Set-Cookie"]
    )
    again = await clients.graphql("{ viewer { username } }", headers=bearer(token))
    assert again.status == 401
    assert (await clients.data("mutation { signOut }")) == {"signOut": False}


@pytest.mark.gen_test
async def test_signed_in_changes_record_their_actor(clients):
    token = await sign_up(clients, "counter_fan")
    event = await clients.data(
        'mutation { incrementCounter(name: "acted") { actor { username } } }', token=token
    )
    assert event["incrementCounter"]["actor"] == {"username": "counter_fan"}
    await clients.data('mutation { incrementCounter(name: "acted") { value } }')
    history = await clients.data(
        '{ counter(name: "acted") { history { edges { node { actor { id username createdAt } } } } } }'
    )
    actors = [edge["node"]["actor"] for edge in history["counter"]["history"]["edges"]]
    assert actors[0] is None
    assert actors[1]["username"] == "counter_fan"


@pytest.mark.gen_test
async def test_a_cross_site_form_post_cannot_ride_the_session_cookie(clients):
    reply = await clients.graphql(SIGN_UP, {"u": "victim", "p": "correct horse"})
    cookie = session_cookie(reply.headers).split(";")[0]
    # What a hostile page's <form> or no-preflight fetch can send: not JSON.
    query = orjson.dumps({"query": "mutation { signOut }"})
    bodies = {
        "text/plain": query,
        "application/x-www-form-urlencoded": b"query=mutation%20%7B%20signOut%20%7D",
        "multipart/form-data; boundary=XyZ": b'--XyZ\r\nContent-Disposition: form-data; name="query"\r\n\r\nmutation { signOut }\r\n--XyZ--\r\n',
    }
    for content_type, body in bodies.items():
        response = await clients.fetch(
            "/graphql",
            method="POST",
            body=body,
            headers={"Content-Type": content_type, "Cookie": cookie},
        )
        assert response.code == 415
    assert (await clients.graphql("{ viewer { username } }", headers={"Cookie": cookie})).body == {
        "data": {"viewer": {"username": "victim"}}
    }
