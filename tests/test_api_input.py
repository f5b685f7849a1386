"""Odd input at the GraphQL API: ids that are not ours or do not fit a
64-bit key, cursors that are huge or garbage, text holding NUL characters
(PostgreSQL cannot store one), variables nested a thousand deep. Each gets
BAD_USER_INPUT saying what was wrong and changes nothing, on SQLite and on
PostgreSQL alike. And a node id reveals only what the viewer may see."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.config import Settings
from tests.clients import Clients, bearer, open_graphql_socket, sign_up
from tests.databases import DATABASES, settings_on

#: pytest-tornado finds `app` at run time; naming it here lets pytest see
#: that every test depends on the parametrised `settings` below.
pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture(params=DATABASES)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The in-process server, once on a SQLite file and once on PostgreSQL."""
    return settings_on(request, tmp_path)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


LIBRARY = "{ library { stories { totalCount edges { node { title description tags { name } } } } tags { totalCount edges { node { name } } } } }"


async def refused(clients: Clients, query: str, variables: Any, token: str | None, says: str):
    reply = await clients.graphql(query, variables, headers=bearer(token) if token else None)
    assert reply.status in (200, 400), reply.body
    errors = reply.body["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", reply.body
    assert says in errors[0]["message"], errors[0]["message"]
    assert "Internal server error" not in orjson.dumps(reply.body).decode()
    return errors[0]


async def library_with_one_of_each(clients: Clients) -> tuple[str, str, str, Any]:
    """A user with one tagged story: (token, story id, tag id, library)."""
    token = await sign_up(clients, f"owner{uuid.uuid4().hex[:6]}")
    story = (
        await clients.data(
            'mutation { createStory(url: "https://example.com/a", title: "A") { id } }', token=token
        )
    )["createStory"]["id"]
    tag = (
        await clients.data('mutation { createTag(name: "t", color: "#123") { id } }', token=token)
    )["createTag"]["id"]
    await clients.data(
        "mutation($s: ID!, $t: ID!) { tagStory(storyId: $s, tagIds: [$t]) { id } }",
        {"s": story, "t": tag},
        token=token,
    )
    return token, story, tag, await clients.data(LIBRARY, token=token)


#: Odd ids, for a type: a kind the server does use, with a key no row has.
ODD_IDS = {
    "a key that is not a number": lambda kind: b64(f"{kind}:abc"),
    "a key past 64 bits": lambda kind: b64(f"{kind}:99999999999999999999999"),
    "a key of superscript digits": lambda kind: b64(f"{kind}:²³"),
    "a key of Arabic-Indic digits": lambda kind: b64(f"{kind}:٣"),
    "a negative key": lambda kind: b64(f"{kind}:-1"),
    "base64 junk": lambda _kind: "////",
    "not base64": lambda _kind: "@@@",
}


@pytest.mark.parametrize("odd", list(ODD_IDS.values()), ids=list(ODD_IDS))
@pytest.mark.gen_test(timeout=30)
async def test_odd_ids_are_bad_user_input_and_change_nothing(clients, odd):
    token, story, _tag, before = await library_with_one_of_each(clients)
    says = "is not an id this server made"
    for kind in ("Story", "Tag", "User"):
        await refused(
            clients, "query($id: ID!) { node(id: $id) { id } }", {"id": odd(kind)}, token, says
        )
    await refused(
        clients,
        'mutation($id: ID!) { updateStory(id: $id, title: "changed") { id } }',
        {"id": odd("Story")},
        token,
        says,
    )
    await refused(
        clients, "mutation($id: ID!) { deleteTag(id: $id) }", {"id": odd("Tag")}, token, says
    )
    await refused(
        clients,
        "mutation($s: ID!, $t: ID!) { untagStory(storyId: $s, tagIds: [$t]) { id } }",
        {"s": story, "t": odd("Tag")},
        token,
        says,
    )
    await refused(
        clients,
        "query($t: ID) { library { stories(tagId: $t) { totalCount } } }",
        {"t": odd("Tag")},
        token,
        says,
    )
    assert await clients.data(LIBRARY, token=token) == before


@pytest.mark.gen_test(timeout=30)
async def test_an_id_of_another_kind_is_not_found_as_before(clients):
    token, _story, _tag, before = await library_with_one_of_each(clients)
    counter_id = (await clients.data('{ counter(name: "c") { id } }'))["counter"]["id"]
    reply = await clients.graphql(
        'mutation($id: ID!) { updateStory(id: $id, title: "x") { id } }',
        {"id": counter_id},
        headers=bearer(token),
    )
    assert reply.body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await clients.data(LIBRARY, token=token) == before


ODD_CURSORS = {
    "a huge number": b64("99999999999999999999999"),
    "garbage": "%%%garbage%%%",
    "base64 of nothing useful": b64("||"),
    "a negative number": b64("-5"),
    "superscript digits": b64("²"),
}


@pytest.mark.parametrize("cursor", list(ODD_CURSORS.values()), ids=list(ODD_CURSORS))
@pytest.mark.gen_test(timeout=30)
async def test_odd_cursors_are_bad_user_input(clients, cursor):
    token, _story, _tag, _before = await library_with_one_of_each(clients)
    await clients.data('mutation { incrementCounter(name: "paged") { value } }')
    says = "is not one this server made"
    for query in (
        "query($c: String) { library { stories(after: $c) { totalCount } } }",
        "query($c: String) { library { tags(after: $c) { totalCount } } }",
        "query($c: String) { library { tags { edges { node { stories(after: $c) { totalCount } } } } } }",
        'query($c: String) { counter(name: "paged") { history(after: $c) { totalCount } } }',
        "query($c: String) { counters(after: $c) { totalCount } }",
    ):
        await refused(clients, query, {"c": cursor}, token, says)


@pytest.mark.gen_test(timeout=30)
async def test_cursors_with_huge_keys_after_a_valid_prefix_are_bad_user_input(clients):
    token, _story, _tag, _before = await library_with_one_of_each(clients)
    says = "is not one this server made"
    huge_tag = b64("t|99999999999999999999999")
    await refused(
        clients,
        "query($c: String) { library { tags(after: $c) { totalCount } } }",
        {"c": huge_tag},
        token,
        says,
    )
    huge_counter = b64("2025-01-01 00:00:00|99999999999999999999999")
    await refused(
        clients,
        "query($c: String) { counters(after: $c) { totalCount } }",
        {"c": huge_counter},
        token,
        says,
    )
    nul_tag = b64("t\x00|1")
    await refused(
        clients,
        "query($c: String) { library { tags(after: $c) { totalCount } } }",
        {"c": nul_tag},
        token,
        says,
    )


NUL = "a\x00b"
NUL_WRITES = {
    "story title": (
        'mutation($v: String!) { createStory(url: "https://example.com/n", title: $v) { id } }',
        {},
    ),
    "story description": (
        'mutation($v: String!) { createStory(url: "https://example.com/n", title: "T", description: $v) { id } }',
        {},
    ),
    "story url": ('mutation($v: String!) { createStory(url: $v, title: "T") { id } }', {}),
    "tag name": ('mutation($v: String!) { createTag(name: $v, color: "#fff") { id } }', {}),
    "tag colour": ('mutation($v: String!) { createTag(name: "n", color: $v) { id } }', {}),
    "counter name": ("mutation($v: String!) { incrementCounter(name: $v) { value } }", {}),
    "counter read": ("query($v: String!) { counter(name: $v) { value } }", {}),
    "username at sign-up": (
        'mutation($v: String!) { signUp(username: $v, password: "correct horse") { token } }',
        {},
    ),
    "username at sign-in": (
        'mutation($v: String!) { signIn(username: $v, password: "correct horse") { token } }',
        {},
    ),
    "password at sign-in": (
        'mutation($v: String!) { signIn(username: "someone", password: $v) { token } }',
        {},
    ),
}


@pytest.mark.parametrize("where", list(NUL_WRITES))
@pytest.mark.gen_test(timeout=30)
async def test_text_with_a_nul_character_is_bad_user_input_and_changes_nothing(clients, where):
    token, _story, _tag, before = await library_with_one_of_each(clients)
    query, _ = NUL_WRITES[where]
    error = await refused(clients, query, {"v": NUL}, token, "NUL")
    assert "\\u0000" in error["message"] or "NUL" in error["message"]
    # The same text written into the document rather than a variable.
    literal = query.replace("($v: String!)", "").replace("$v", '"a\\u0000b"')
    await refused(clients, literal, None, token, "NUL")
    assert await clients.data(LIBRARY, token=token) == before


@pytest.mark.gen_test(timeout=30)
async def test_renaming_with_a_nul_character_is_bad_user_input_and_changes_nothing(clients):
    token, story, tag, before = await library_with_one_of_each(clients)
    await refused(
        clients,
        "mutation($id: ID!, $v: String!) { updateStory(id: $id, title: $v) { id } }",
        {"id": story, "v": NUL},
        token,
        "NUL",
    )
    await refused(
        clients,
        "mutation($id: ID!, $v: String!) { updateTag(id: $id, name: $v) { id } }",
        {"id": tag, "v": NUL},
        token,
        "NUL",
    )
    assert await clients.data(LIBRARY, token=token) == before


# ---------------------------------------------------------- deep variables


def nested(levels: int, kind: str) -> str:
    """JSON text of a value `levels` lists or objects deep (written out by
    hand: JSON encoders refuse to go this deep)."""
    opening, closing = ("[", "]") if kind == "list" else ('{"a":', "}")
    return opening * levels + '"x"' + closing * levels


@pytest.mark.parametrize("kind", ["list", "object"])
@pytest.mark.gen_test(timeout=30)
async def test_variables_nested_1000_deep_are_bad_user_input_over_http(clients, kind):
    token = await sign_up(clients, f"deep{kind}")
    query = "mutation($s: ID!, $t: [ID!]!) { tagStory(storyId: $s, tagIds: $t) { id } }"
    body = f'{{"query": "{query}", "variables": {{"s": "x", "t": {nested(1000, kind)}}}}}'
    response = await clients.fetch(
        "/graphql",
        method="POST",
        body=body,
        headers={
            "Content-Type": "application/json",
            "Accept": "application/graphql-response+json",
            **bearer(token),
        },
    )
    assert response.code == 400, response.body
    reply = orjson.loads(response.body)
    error = reply["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "nested" in error["message"]
    assert "data" not in reply


@pytest.mark.parametrize("kind", ["list", "object"])
@pytest.mark.gen_test(timeout=30)
async def test_variables_nested_1000_deep_are_bad_user_input_over_the_socket(clients, kind):
    socket = await open_graphql_socket(clients)
    await socket.init()
    query = "query($v: [ID!]) { __typename }"
    await socket.send(
        f'{{"id": "deep", "type": "subscribe", "payload": {{"query": "{query}", '
        f'"variables": {{"v": {nested(1000, kind)}}}}}}}'
    )
    message = await socket.receive()
    assert message["type"] == "error", message
    assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "nested" in message["payload"][0]["message"]
    await socket.subscribe("after", "{ __typename }")
    assert (await socket.next_payload("after"))["data"] == {"__typename": "Query"}


# ------------------------------------------------------------------- nodes


@pytest.mark.gen_test(timeout=30)
async def test_a_user_node_resolves_for_that_user_only(clients):
    ada = await sign_up(clients, "ada_private")
    ada_id = (await clients.data("{ viewer { id } }", token=ada))["viewer"]["id"]
    bob = await sign_up(clients, "bob_curious")
    query = "query($id: ID!) { node(id: $id) { id ... on User { username } } }"
    assert await clients.data(query, {"id": ada_id}, token=bob) == {"node": None}
    assert await clients.data(query, {"id": ada_id}) == {"node": None}
    assert await clients.data(query, {"id": ada_id}, token=ada) == {
        "node": {"id": ada_id, "username": "ada_private"}
    }
    # Guessing ids one after another finds no username either.
    for number in range(1, 5):
        found = await clients.data(query, {"id": b64(f"User:{number}")}, token=bob)
        assert found["node"] is None or found["node"]["username"] == "bob_curious"
