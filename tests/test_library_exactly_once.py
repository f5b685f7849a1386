"""Exactly-once library changes: `clientMutationId` on the library's
mutations makes a retry get the first answer and change nothing."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from tornado.httpclient import AsyncHTTPClient

from tests.clients import bearer, open_graphql_socket, sign_up

CREATE = """mutation Add($url: String!, $key: String) {
  createStory(url: $url, title: "Once", clientMutationId: $key) { id title }
}"""
DELETE = """mutation Drop($id: ID!, $key: String) {
  deleteStory(id: $id, clientMutationId: $key)
}"""
COUNT = "{ library { stories(first: 100) { totalCount } tags { totalCount } } }"


async def ask(clients, token: str, query: str, variables: dict | None = None):
    return await clients.graphql(query, variables, headers=bearer(token))


@pytest.mark.gen_test
async def test_a_retried_create_gets_the_story_it_made_and_makes_no_other(clients):
    token = await sign_up(clients, "ada_keys")
    socket = await open_graphql_socket(clients)
    await socket.init({"token": token})
    await socket.subscribe("lib", 'subscription { channel(name: "library") { __typename } }')
    first = await ask(clients, token, CREATE, {"url": "https://example.com/a", "key": "k1"})
    again = await ask(clients, token, CREATE, {"url": "https://example.com/a", "key": "k1"})
    assert "errors" not in first.body, first.body
    assert again.body == first.body
    counts = (await ask(clients, token, COUNT)).body["data"]["library"]
    assert counts["stories"]["totalCount"] == 1
    # The tabs heard one creation (and its totals), not two.
    kinds = [(await socket.next_payload("lib"))["data"]["channel"]["__typename"] for _ in range(2)]
    assert kinds == ["StoryCreateEvent", "LibraryChangeEvent"]
    await socket.nothing_more()


@pytest.mark.gen_test
async def test_a_retried_delete_is_answered_with_its_id_not_told_it_is_gone(clients):
    token = await sign_up(clients, "del_keys")
    made = await ask(clients, token, CREATE, {"url": "https://example.com/d", "key": None})
    story_id = made.body["data"]["createStory"]["id"]
    delete = 'mutation($id: ID!) { deleteStory(id: $id, clientMutationId: "gone-1") }'
    first = await ask(clients, token, delete, {"id": story_id})
    again = await ask(clients, token, delete, {"id": story_id})
    assert first.body == again.body == {"data": {"deleteStory": story_id}}
    # Without a key, deleting it again is what it always was.
    plain = "mutation($id: ID!) { deleteStory(id: $id) }"
    refused = await ask(clients, token, plain, {"id": story_id})
    assert refused.body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.gen_test
async def test_tags_and_tagging_by_key_apply_once(clients):
    token = await sign_up(clients, "tag_keys")
    story = (await ask(clients, token, CREATE, {"url": "https://example.com/t", "key": "s"})).body
    story_id = story["data"]["createStory"]["id"]
    create_tag = (
        'mutation { createTag(name: "Keyed", color: "#abc", clientMutationId: "t") { id } }'
    )
    tags = [(await ask(clients, token, create_tag)).body for _ in range(2)]
    assert tags[0] == tags[1]
    tag_id = tags[0]["data"]["createTag"]["id"]
    tag = (
        "mutation($s: ID!, $t: [ID!]!) { tagStory(storyId: $s, tagIds: $t, "
        'clientMutationId: "tagging") { tags { name } } }'
    )
    for _ in range(2):
        reply = await ask(clients, token, tag, {"s": story_id, "t": [tag_id]})
        assert reply.body == {"data": {"tagStory": {"tags": [{"name": "Keyed"}]}}}
    counts = (await ask(clients, token, COUNT)).body["data"]["library"]
    assert counts == {"stories": {"totalCount": 1}, "tags": {"totalCount": 1}}


@pytest.mark.gen_test
async def test_a_key_used_for_another_change_is_refused_and_keys_are_each_users_own(clients):
    ada = await sign_up(clients, "ada_other")
    bob = await sign_up(clients, "bob_other")
    await ask(clients, ada, CREATE, {"url": "https://example.com/1", "key": "same"})
    other = await ask(clients, ada, CREATE, {"url": "https://example.com/2", "key": "same"})
    (error,) = other.body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "already used for another change" in error["message"]
    # Bob's "same" is his own: his story is made, and Ada's is not his answer.
    bobs = await ask(clients, bob, CREATE, {"url": "https://example.com/1", "key": "same"})
    assert "errors" not in bobs.body
    for token in (ada, bob):
        counts = (await ask(clients, token, COUNT)).body["data"]["library"]
        assert counts["stories"]["totalCount"] == 1
    bad = await ask(clients, ada, CREATE, {"url": "https://example.com/3", "key": "x" * 101})
    assert "1 to 100 printable characters" in bad.body["errors"][0]["message"]


@pytest.mark.gen_test(timeout=120)
async def test_two_processes_make_each_keyed_story_once_when_both_are_asked(pair):
    """200 creations, each sent to both processes at once: 200 stories, and
    both answers to each key name the same one."""
    first, second = pair
    signed = await first.graphql_async(
        'mutation { signUp(username: "both_keys", password: "correct horse") { token } }'
    )
    token = signed["data"]["signUp"]["token"]
    http = AsyncHTTPClient()
    semaphore = asyncio.Semaphore(8)

    async def post(process, query: str, variables: dict) -> dict:
        async with semaphore:
            response = await http.fetch(
                process.url + "/graphql",
                method="POST",
                body=orjson.dumps({"query": query, "variables": variables}),
                headers={"Content-Type": "application/json", **bearer(token)},
            )
        return orjson.loads(response.body)

    async def send(process, number: int) -> dict:
        variables = {"url": f"https://example.com/{number}", "key": f"story-{number}"}
        return await post(process, CREATE, variables)

    made: dict[int, str] = {}

    async def both(number: int) -> None:
        a, b = await asyncio.gather(send(first, number), send(second, number))
        assert "errors" not in a, a
        assert a == b
        made[number] = a["data"]["createStory"]["id"]

    await asyncio.gather(*(both(number) for number in range(200)))
    counts = await second.graphql_async(COUNT, token=token)
    assert counts["data"]["library"]["stories"]["totalCount"] == 200

    # Each deletion sent to both at once: however the two interleave (one
    # may look for the story just as the other's deletion commits), both
    # are answered with the id, neither is told the story is gone.
    async def delete(process, number: int) -> dict:
        return await post(process, DELETE, {"id": made[number], "key": f"delete-{number}"})

    async def both_delete(number: int) -> None:
        a, b = await asyncio.gather(delete(first, number), delete(second, number))
        assert a == b == {"data": {"deleteStory": made[number]}}, (a, b)

    await asyncio.gather(*(both_delete(number) for number in range(200)))
    counts = await first.graphql_async(COUNT, token=token)
    assert counts["data"]["library"]["stories"]["totalCount"] == 0
