"""The library over HTTP: stories, tags, tagging, rules, paging, ownership."""

from __future__ import annotations

import pytest

from app.db import database
from tests.clients import sign_up

CREATE_STORY = "mutation($url: String!, $title: String!, $d: String) { createStory(url: $url, title: $title, description: $d) { id url title description createdAt tags { id } } }"
CREATE_TAG = "mutation($n: String!, $c: String!) { createTag(name: $n, color: $c) { id name color createdAt } }"
TAG_STORY = (
    "mutation($s: ID!, $t: [ID!]!) { tagStory(storyId: $s, tagIds: $t) { id tags { id name } } }"
)
UNTAG_STORY = (
    "mutation($s: ID!, $t: [ID!]!) { untagStory(storyId: $s, tagIds: $t) { id tags { id name } } }"
)


class Library:
    """One signed-in user's view of the API."""

    def __init__(self, clients, token: str) -> None:
        self.clients = clients
        self.token = token

    async def reply(self, query: str, variables: dict | None = None):
        return await self.clients.graphql(
            query, variables, headers={"Authorization": f"Bearer {self.token}"}
        )

    async def data(self, query: str, variables: dict | None = None):
        return await self.clients.data(query, variables, token=self.token)

    async def error(self, query: str, variables: dict | None = None) -> dict:
        reply = await self.reply(query, variables)
        assert "errors" in reply.body, reply.body
        return reply.body["errors"][0]

    async def story(self, url: str, title: str = "A story", description: str | None = None) -> dict:
        return (await self.data(CREATE_STORY, {"url": url, "title": title, "d": description}))[
            "createStory"
        ]

    async def tag(self, name: str, color: str = "#1e90ff") -> dict:
        return (await self.data(CREATE_TAG, {"n": name, "c": color}))["createTag"]

    async def totals(self) -> tuple[int, int]:
        data = await self.data("{ library { stories { totalCount } tags { totalCount } } }")
        return data["library"]["stories"]["totalCount"], data["library"]["tags"]["totalCount"]


@pytest.fixture
def ada(clients, io_loop):
    return Library(clients, io_loop.run_sync(lambda: sign_up(clients, "ada")))


@pytest.fixture
def bob(clients, io_loop):
    return Library(clients, io_loop.run_sync(lambda: sign_up(clients, "bob")))


@pytest.mark.gen_test
async def test_creating_a_story_trims_its_title_and_keeps_its_url(ada):
    story = await ada.story("https://example.com/Post?b=2&a=1", "  Hello world  ", "notes")
    assert story["url"] == "https://example.com/Post?b=2&a=1"
    assert story["title"] == "Hello world"
    assert story["description"] == "notes"
    assert story["tags"] == []
    assert story["createdAt"].endswith("Z")
    assert await ada.totals() == (1, 0)


@pytest.mark.gen_test
async def test_the_library_needs_a_signed_in_user(clients):
    reply = await clients.graphql("{ library { stories { totalCount } } }")
    assert reply.body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    reply = await clients.graphql('mutation { createTag(name: "x", color: "#fff") { id } }')
    assert reply.body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"url": "ftp://example.com/file", "title": "t"}, "http:// or https://"),
        ({"url": "/relative/path", "title": "t"}, "http:// or https://"),
        ({"url": "example.com", "title": "t"}, "http:// or https://"),
        ({"url": "https://", "title": "t"}, "http:// or https://"),
        ({"url": "https://example.com:99999/", "title": "t"}, "http:// or https://"),
        ({"url": "https://example.com/" + "a" * 2030, "title": "t"}, "at most 2048 characters"),
        ({"url": "https://example.com/", "title": ""}, "1 to 300 characters"),
        ({"url": "https://example.com/", "title": "   "}, "1 to 300 characters"),
        ({"url": "https://example.com/", "title": "x" * 301}, "1 to 300 characters"),
        ({"url": "https://example.com/", "title": "t", "d": "x" * 5001}, "at most 5000 characters"),
    ],
)
@pytest.mark.gen_test
async def test_story_rules_each_name_what_failed_and_change_nothing(ada, variables, message):
    error = await ada.error(CREATE_STORY, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in error["message"]
    assert await ada.totals() == (0, 0)


@pytest.mark.parametrize(
    ("name", "color", "message"),
    [
        ("", "#fff", "1 to 50 characters"),
        ("   ", "#fff", "1 to 50 characters"),
        ("x" * 51, "#fff", "1 to 50 characters"),
        ("ok", "red", "hex colour"),
        ("ok", "#12", "hex colour"),
        ("ok", "#12345g", "hex colour"),
        ("ok", "#1234567", "hex colour"),
    ],
)
@pytest.mark.gen_test
async def test_tag_rules_each_name_what_failed_and_change_nothing(ada, name, color, message):
    error = await ada.error(CREATE_TAG, {"n": name, "c": color})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in error["message"]
    assert await ada.totals() == (0, 0)


@pytest.mark.gen_test
async def test_tag_names_are_unique_per_user_regardless_of_case_and_colours_lowercase(ada, bob):
    tag = await ada.tag("Reading", "#ABCDEF")
    assert tag["color"] == "#abcdef"
    error = await ada.error(CREATE_TAG, {"n": "reading", "c": "#fff"})
    assert "already have a tag named" in error["message"]
    await bob.tag("reading")  # another user's names are theirs alone
    renamed = await ada.tag("Later")
    error = await ada.error(
        'mutation($id: ID!) { updateTag(id: $id, name: "READING") { id } }', {"id": renamed["id"]}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("first", "again"),
    [
        ("https://Example.COM/a", "HTTPS://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com/a#intro", "https://example.com/a"),
        ("https://example.com/a?utm_source=x&utm_medium=y", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a/", "https://example.com/a"),
    ],
)
@pytest.mark.gen_test
async def test_a_url_already_in_the_library_is_refused_naming_the_story(ada, first, again):
    story = await ada.story(first, "The original")
    error = await ada.error(CREATE_STORY, {"url": again, "title": "Again"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert story["id"] in error["message"]
    assert await ada.totals() == (1, 0)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://example.com/", "http://example.com/"),
        ("https://example.com:8443/a", "https://example.com/a"),
        ("https://example.com/a?x=1", "https://example.com/a?x=2"),
        ("https://example.com/A", "https://example.com/a"),
    ],
)
@pytest.mark.gen_test
async def test_different_pages_are_different_stories(ada, one, other):
    await ada.story(one)
    await ada.story(other)
    assert await ada.totals() == (2, 0)


@pytest.mark.gen_test
async def test_update_story_leaves_omitted_fields_and_null_clears_the_description(ada):
    story = await ada.story("https://example.com/u", "Title", "Description")
    query = "mutation($id: ID!, $t: String, $d: String) { updateStory(id: $id, title: $t, description: $d) { title description } }"
    only_title = await ada.data(
        'mutation($id: ID!) { updateStory(id: $id, title: " New ") { title description } }',
        {"id": story["id"]},
    )
    assert only_title["updateStory"] == {"title": "New", "description": "Description"}
    cleared = await ada.data(query, {"id": story["id"], "d": None})
    assert cleared["updateStory"] == {"title": "New", "description": None}
    error = await ada.error(query, {"id": story["id"], "t": None})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.gen_test
async def test_tagging_is_idempotent_and_untagging_removes_only_links(ada):
    story = await ada.story("https://example.com/t")
    reading = await ada.tag("reading")
    later = await ada.tag("later")
    tagged = await ada.data(
        TAG_STORY, {"s": story["id"], "t": [reading["id"], later["id"], reading["id"]]}
    )
    assert [t["name"] for t in tagged["tagStory"]["tags"]] == ["later", "reading"]
    again = await ada.data(TAG_STORY, {"s": story["id"], "t": [reading["id"]]})
    assert len(again["tagStory"]["tags"]) == 2
    untagged = await ada.data(UNTAG_STORY, {"s": story["id"], "t": [later["id"]]})
    assert [t["name"] for t in untagged["untagStory"]["tags"]] == ["reading"]
    assert await ada.totals() == (1, 2)


@pytest.mark.gen_test
async def test_deleting_a_tag_removes_it_from_every_story(ada):
    stories = [await ada.story(f"https://example.com/{n}") for n in range(3)]
    tag = await ada.tag("doomed")
    for story in stories:
        await ada.data(TAG_STORY, {"s": story["id"], "t": [tag["id"]]})
    assert (await ada.data("mutation($id: ID!) { deleteTag(id: $id) }", {"id": tag["id"]})) == {
        "deleteTag": tag["id"]
    }
    data = await ada.data("{ library { stories { edges { node { tags { id } } } } } }")
    assert all(edge["node"]["tags"] == [] for edge in data["library"]["stories"]["edges"])
    assert await ada.totals() == (3, 0)


@pytest.mark.gen_test
async def test_deleting_a_story_removes_its_tag_links(ada):
    story = await ada.story("https://example.com/gone")
    tag = await ada.tag("kept")
    await ada.data(TAG_STORY, {"s": story["id"], "t": [tag["id"]]})
    assert (await ada.data("mutation($id: ID!) { deleteStory(id: $id) }", {"id": story["id"]})) == {
        "deleteStory": story["id"]
    }
    data = await ada.data(
        "query($id: ID!) { node(id: $id) { ... on Tag { stories { totalCount } } } }",
        {"id": tag["id"]},
    )
    assert data["node"]["stories"]["totalCount"] == 0
    error = await ada.error("mutation($id: ID!) { deleteStory(id: $id) }", {"id": story["id"]})
    assert error["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.gen_test(timeout=30)
async def test_paging_25_stories_by_10_has_no_duplicate_or_gap(ada):
    for n in range(25):
        await ada.story(f"https://example.com/page/{n}", f"Story {n}")
    titles: list[str] = []
    after = None
    while True:
        data = await ada.data(
            "query($a: String) { library { stories(first: 10, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { title } } } } }",
            {"a": after},
        )
        page = data["library"]["stories"]
        assert page["totalCount"] == 25
        assert len(page["edges"]) <= 10
        titles += [edge["node"]["title"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert titles == [f"Story {n}" for n in range(24, -1, -1)]  # newest first


@pytest.mark.gen_test
async def test_stories_filter_by_tag_and_tags_list_their_stories(ada):
    tagged = [await ada.story(f"https://example.com/f{n}", f"F{n}") for n in range(3)]
    await ada.story("https://example.com/untagged", "Untagged")
    tag = await ada.tag("filter")
    for story in tagged[:2]:
        await ada.data(TAG_STORY, {"s": story["id"], "t": [tag["id"]]})
    data = await ada.data(
        "query($t: ID) { library { stories(tagId: $t) { totalCount edges { node { title } } } } }",
        {"t": tag["id"]},
    )
    assert data["library"]["stories"]["totalCount"] == 2
    assert [e["node"]["title"] for e in data["library"]["stories"]["edges"]] == ["F1", "F0"]
    data = await ada.data(
        "{ library { tags { edges { node { name stories(first: 1) { totalCount pageInfo { hasNextPage } edges { node { title } } } } } } } }"
    )
    stories = data["library"]["tags"]["edges"][0]["node"]["stories"]
    assert stories["totalCount"] == 2
    assert stories["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["title"] for e in stories["edges"]] == ["F1"]


@pytest.mark.gen_test
async def test_tags_are_listed_by_name_and_page(ada):
    for name in ("delta", "Alpha", "charlie", "bravo"):
        await ada.tag(name)
    first = await ada.data(
        "{ library { tags(first: 2) { pageInfo { endCursor hasNextPage } edges { node { name } } } } }"
    )
    page = first["library"]["tags"]
    assert [e["node"]["name"] for e in page["edges"]] == ["Alpha", "bravo"]
    rest = await ada.data(
        "query($a: String) { library { tags(first: 2, after: $a) { edges { node { name } } } } }",
        {"a": page["pageInfo"]["endCursor"]},
    )
    assert [e["node"]["name"] for e in rest["library"]["tags"]["edges"]] == ["charlie", "delta"]


@pytest.mark.gen_test
async def test_more_than_100_per_page_is_refused(ada):
    error = await ada.error("{ library { stories(first: 101) { totalCount } } }")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    error = await ada.error("{ library { tags(first: 500) { totalCount } } }")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.gen_test(timeout=60)
async def test_a_page_of_100_stories_with_tags_costs_a_bounded_number_of_queries(ada):
    tags = [await ada.tag(f"t{n}") for n in range(3)]
    for n in range(100):
        story = await ada.story(f"https://example.com/n1/{n}")
        await ada.data(TAG_STORY, {"s": story["id"], "t": [tag["id"] for tag in tags[: n % 4]]})
    statements: list[str] = []
    database.connection().set_trace_callback(statements.append)
    try:
        data = await ada.data(
            "{ library { stories(first: 100) { totalCount edges { node { id title tags { id name color } } } } } }"
        )
    finally:
        database.connection().set_trace_callback(None)
    edges = data["library"]["stories"]["edges"]
    assert len(edges) == 100
    assert sum(len(edge["node"]["tags"]) for edge in edges) == sum(n % 4 for n in range(100))
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # Credential lookup, stories page, all their tags, total: not one per story.
    assert len(selects) <= 5, selects


# ------------------------------------------------------------- ownership

OTHERS = [
    ("story", 'mutation($id: ID!) { updateStory(id: $id, title: "mine now") { id } }'),
    ("story", "mutation($id: ID!) { deleteStory(id: $id) }"),
    ("tag", 'mutation($id: ID!) { updateTag(id: $id, name: "mine now") { id } }'),
    ("tag", "mutation($id: ID!) { deleteTag(id: $id) }"),
    ("story", "mutation($id: ID!) { tagStory(storyId: $id, tagIds: []) { id } }"),
    ("story", "mutation($id: ID!) { untagStory(storyId: $id, tagIds: []) { id } }"),
]


@pytest.mark.parametrize(("kind", "mutation"), OTHERS)
@pytest.mark.gen_test
async def test_another_users_objects_do_not_exist_for_you(ada, bob, kind, mutation):
    story = await ada.story("https://example.com/private", "Ada's")
    tag = await ada.tag("ada-only")
    target = story["id"] if kind == "story" else tag["id"]
    error = await bob.error(mutation, {"id": target})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert (await bob.data("query($id: ID!) { node(id: $id) { id } }", {"id": target})) == {
        "node": None
    }
    data = await ada.data(
        "query($id: ID!) { node(id: $id) { id ... on Story { title } ... on Tag { name } } }",
        {"id": target},
    )
    unchanged = (
        {"id": target, "title": "Ada's"} if kind == "story" else {"id": target, "name": "ada-only"}
    )
    assert data["node"] == unchanged  # still there for its owner, as it was
    assert await ada.totals() == (1, 1)


@pytest.mark.gen_test
async def test_tagging_your_story_with_someone_elses_tag_is_not_found(ada, bob):
    story = await bob.story("https://example.com/bobs")
    own = await bob.tag("own")
    foreign = await ada.tag("foreign")
    error = await bob.error(TAG_STORY, {"s": story["id"], "t": [own["id"], foreign["id"]]})
    assert error["extensions"]["code"] == "NOT_FOUND"
    data = await bob.data(
        "query($id: ID!) { node(id: $id) { ... on Story { tags { id } } } }", {"id": story["id"]}
    )
    assert data["node"]["tags"] == []  # not even the own tag was attached


@pytest.mark.gen_test
async def test_an_id_of_the_wrong_type_is_not_found(ada):
    tag = await ada.tag("a tag")
    error = await ada.error("mutation($id: ID!) { deleteStory(id: $id) }", {"id": tag["id"]})
    assert error["extensions"]["code"] == "NOT_FOUND"
