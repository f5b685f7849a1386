"""Library events on each user's `library` channel: exact, ordered, private."""

from __future__ import annotations

import asyncio

import pytest

from app.events import library_topic
from app.models.user import User
from tests.clients import open_graphql_socket, sign_up
from tests.documents import LIBRARY_SUBSCRIPTION
from tests.test_library import CREATE_STORY, CREATE_TAG, TAG_STORY, UNTAG_STORY, Library
from tests.waiting import until


async def library_socket(clients, registry, token: str, username: str):
    socket = await open_graphql_socket(clients)
    await socket.init({"token": token})
    await socket.subscribe("lib", LIBRARY_SUBSCRIPTION)
    topic = library_topic(User.by_username(username).id)
    for _ in range(100):
        if registry.subscribers(topic):
            break
        await asyncio.sleep(0.01)
    return socket


async def events(socket, count: int) -> list[dict]:
    return [(await socket.next_payload("lib"))["data"]["channel"] for _ in range(count)]


@pytest.mark.gen_test(timeout=30)
async def test_every_mutation_publishes_exactly_its_events_in_order(clients, registry):
    token = await sign_up(clients, "eventful")
    me = Library(clients, token)
    socket = await library_socket(clients, registry, token, "eventful")

    story = (
        await me.data(CREATE_STORY, {"url": "https://example.com/e", "title": "E", "d": "first"})
    )["createStory"]
    assert await events(socket, 2) == [
        {
            "type": "story:create",
            "story": {
                "id": story["id"],
                "url": "https://example.com/e",
                "title": "E",
                "description": "first",
                "createdAt": story["createdAt"],
            },
        },
        {"type": "library:change", "totalStories": 1, "totalTags": 0},
    ]

    tag = (await me.data(CREATE_TAG, {"n": "Later", "c": "#F80"}))["createTag"]
    assert await events(socket, 2) == [
        {
            "type": "tag:create",
            "tag": {
                "id": tag["id"],
                "name": "Later",
                "color": "#f80",
                "createdAt": tag["createdAt"],
            },
        },
        {"type": "library:change", "totalStories": 1, "totalTags": 1},
    ]

    await me.data(
        'mutation($id: ID!) { updateStory(id: $id, title: "E2", description: null) { id } }',
        {"id": story["id"]},
    )
    updated = await events(socket, 1)
    assert updated == [
        {
            "type": "story:update",
            "story": {
                "id": story["id"],
                "url": "https://example.com/e",
                "title": "E2",
                "description": None,
                "createdAt": story["createdAt"],
            },
        }
    ]

    await me.data(
        'mutation($id: ID!) { updateTag(id: $id, color: "#000000") { id } }', {"id": tag["id"]}
    )
    assert await events(socket, 1) == [
        {
            "type": "tag:update",
            "tag": {
                "id": tag["id"],
                "name": "Later",
                "color": "#000000",
                "createdAt": tag["createdAt"],
            },
        }
    ]

    await me.data(TAG_STORY, {"s": story["id"], "t": [tag["id"]]})
    assert await events(socket, 1) == [
        {"type": "story:tag", "storyId": story["id"], "tagIds": [tag["id"]]}
    ]
    await me.data(TAG_STORY, {"s": story["id"], "t": [tag["id"]]})  # nothing new: no event
    await me.data(UNTAG_STORY, {"s": story["id"], "t": [tag["id"]]})
    assert await events(socket, 1) == [
        {"type": "story:untag", "storyId": story["id"], "tagIds": [tag["id"]]}
    ]
    await me.data(UNTAG_STORY, {"s": story["id"], "t": [tag["id"]]})  # nothing removed: no event

    await me.data("mutation($id: ID!) { deleteTag(id: $id) }", {"id": tag["id"]})
    assert await events(socket, 2) == [
        {"type": "tag:delete", "deletedTagId": tag["id"]},
        {"type": "library:change", "totalStories": 1, "totalTags": 0},
    ]
    await me.data("mutation($id: ID!) { deleteStory(id: $id) }", {"id": story["id"]})
    assert await events(socket, 2) == [
        {"type": "story:delete", "deletedStoryId": story["id"]},
        {"type": "library:change", "totalStories": 0, "totalTags": 0},
    ]
    # An update that changes nothing publishes nothing; refused changes neither.
    await me.error(CREATE_TAG, {"n": "", "c": "#fff"})
    await socket.nothing_more(0.3)


@pytest.mark.gen_test(timeout=30)
async def test_two_users_subscribed_at_once_hear_only_their_own(clients, registry):
    tokens = {name: await sign_up(clients, name) for name in ("ann", "ben")}
    sockets = {name: await library_socket(clients, registry, tokens[name], name) for name in tokens}
    for name, token in tokens.items():
        await Library(clients, token).story(f"https://example.com/{name}", f"{name}'s story")
    for name, socket in sockets.items():
        created, change = await events(socket, 2)
        assert created["story"]["title"] == f"{name}'s story"
        assert change == {"type": "library:change", "totalStories": 1, "totalTags": 0}
        await socket.nothing_more(0.2)


@pytest.mark.gen_test(timeout=30)
async def test_every_tab_of_a_user_hears_each_change(clients, registry):
    token = await sign_up(clients, "tabs")
    tabs = [await library_socket(clients, registry, token, "tabs") for _ in range(3)]
    await Library(clients, token).tag("everywhere")
    for tab in tabs:
        assert [event["type"] for event in await events(tab, 2)] == ["tag:create", "library:change"]


@pytest.mark.gen_test(timeout=30)
async def test_selecting_tags_on_an_event_story_works(clients, registry):
    token = await sign_up(clients, "deep")
    me = Library(clients, token)
    socket = await open_graphql_socket(clients)
    await socket.init({"token": token})
    await socket.subscribe(
        "lib",
        'subscription { channel(name: "library") { __typename ... on StoryUpdateEvent { story { title tags { name } } } } }',
    )
    topic = library_topic(User.by_username("deep").id)
    await until(lambda: registry.subscribers(topic), "the subscription to join")
    story = await me.story("https://example.com/deep", "Deep")
    tag = await me.tag("nested")
    await me.data(TAG_STORY, {"s": story["id"], "t": [tag["id"]]})
    await me.data(
        'mutation($id: ID!) { updateStory(id: $id, title: "Deeper") { id } }', {"id": story["id"]}
    )
    typenames = []
    while True:
        channel = (await socket.next_payload("lib"))["data"]["channel"]
        typenames.append(channel["__typename"])
        if channel["__typename"] == "StoryUpdateEvent":
            assert channel["story"] == {"title": "Deeper", "tags": [{"name": "nested"}]}
            break
    assert typenames == [
        "StoryCreateEvent",
        "LibraryChangeEvent",
        "TagCreateEvent",
        "LibraryChangeEvent",
        "StoryTagEvent",
        "StoryUpdateEvent",
    ]


@pytest.mark.gen_test(timeout=30)
async def test_refused_cross_user_attempts_publish_nothing_to_anyone(clients, registry):
    owner_token, intruder_token = (
        await sign_up(clients, "owner"),
        await sign_up(clients, "intruder"),
    )
    owner, intruder = Library(clients, owner_token), Library(clients, intruder_token)
    story = await owner.story("https://example.com/owned")
    tag = await owner.tag("owned")
    sockets = [
        await library_socket(clients, registry, owner_token, "owner"),
        await library_socket(clients, registry, intruder_token, "intruder"),
    ]
    own_story = await intruder.story("https://example.com/intruder")
    await events(sockets[1], 2)
    attempts = [
        ('mutation($s: ID!) { updateStory(id: $s, title: "x") { id } }', {"s": story["id"]}),
        ("mutation($s: ID!) { deleteStory(id: $s) }", {"s": story["id"]}),
        ('mutation($t: ID!) { updateTag(id: $t, color: "#000") { id } }', {"t": tag["id"]}),
        ("mutation($t: ID!) { deleteTag(id: $t) }", {"t": tag["id"]}),
        (TAG_STORY, {"s": story["id"], "t": []}),
        (TAG_STORY, {"s": own_story["id"], "t": [tag["id"]]}),
        (UNTAG_STORY, {"s": own_story["id"], "t": [tag["id"]]}),
    ]
    for query, variables in attempts:
        assert (await intruder.error(query, variables))["extensions"]["code"] == "NOT_FOUND"
    for socket in sockets:
        await socket.nothing_more(0.3)
