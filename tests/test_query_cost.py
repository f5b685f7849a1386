"""What one operation may cost: refused before execution when its result
could hold more than MAX_COST values (lists multiply by their page size,
aliases and fragments count each time, introspection counts too); stopped
when it runs past its time budget; and the parsed-document cache bounded
in bytes. Refusals come in milliseconds, so other clients are still served."""

from __future__ import annotations

import re

import pytest
from graphql import get_introspection_query

from app.api.limits import EXECUTION_BUDGET, MAX_COST
from app.config import PROJECT_ROOT
from app.models.counter import Counter
from tests.clients import Clients, open_graphql_socket, sign_up
from tests.test_hostile_graphql import assert_refused, deep_library_query

LIMIT = f"the limit is {MAX_COST:,}"

#: About 650 bytes: seven copies of the schema's types, their fields'
#: types' fields, and so on. Queries like this, with a few more levels or
#: aliases, held the server for seconds and returned tens of megabytes.
INTROSPECTION_ALIASES = (
    "{ "
    + " ".join(
        f"s{n}: __schema {{ types {{ fields {{ type {{ fields {{ type {{ fields {{ type "
        f"{{ name }} }} }} }} }} }} }} }}"
        for n in range(7)
    )
    + " }"
)


async def still_served(clients: Clients) -> None:
    """Another client's ordinary change is answered after the refusal."""
    data = await clients.data('mutation { incrementCounter(name: "bystander") { value } }')
    assert data["incrementCounter"]["value"] >= 1


async def library_of(clients: Clients, stories: int, tags: int) -> str:
    """A user whose `stories` stories each carry all of `tags` tags."""
    token = await sign_up(clients, f"wide{stories}x{tags}")
    tag_ids = []
    for number in range(tags):
        created = await clients.data(
            'mutation($n: String!) { createTag(name: $n, color: "#abc") { id } }',
            {"n": f"tag{number}"},
            token=token,
        )
        tag_ids.append(created["createTag"]["id"])
    for number in range(stories):
        created = await clients.data(
            'mutation($u: String!) { createStory(url: $u, title: "S") { id } }',
            {"u": f"https://example.com/{number}"},
            token=token,
        )
        await clients.data(
            "mutation($s: ID!, $t: [ID!]!) { tagStory(storyId: $s, tagIds: $t) { id } }",
            {"s": created["createStory"]["id"], "t": tag_ids},
            token=token,
        )
    return token


@pytest.mark.gen_test
async def test_aliased_introspection_is_refused_naming_its_cost_and_the_limit(clients):
    assert len(INTROSPECTION_ALIASES) < 800
    error = await assert_refused(clients, INTROSPECTION_ALIASES, says=LIMIT)
    assert re.search(r"could return about [\d,]+ values", error["message"]), error
    assert "Ask for fewer items (first:) or fewer fields." in error["message"]
    await still_served(clients)


@pytest.mark.gen_test
async def test_aliased_introspection_is_refused_over_the_socket_too(clients):
    socket = await open_graphql_socket(clients)
    await socket.init()
    await socket.subscribe("costly", INTROSPECTION_ALIASES)
    message = await socket.receive()
    assert message["type"] == "error", message
    assert LIMIT in message["payload"][0]["message"]
    await socket.subscribe("cheap", '{ counter(name: "bystander") { name } }')
    assert (await socket.next_payload("cheap"))["data"] == {"counter": {"name": "bystander"}}
    await still_served(clients)


@pytest.mark.gen_test(timeout=120)
async def test_nesting_through_a_library_of_20_stories_with_20_tags_is_refused(clients):
    token = await library_of(clients, 20, 20)
    reply = await clients.graphql(
        deep_library_query(12), headers={"Authorization": f"Bearer {token}"}
    )
    assert reply.status == 400, reply.body
    error = reply.body["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert LIMIT in error["message"]
    await still_served(clients)
    # As deep but two items a page is fine.
    data = await clients.data(deep_library_query(12, first=2), token=token)
    assert len(data["library"]["tags"]["edges"]) == 2


@pytest.mark.gen_test
async def test_first_sets_the_cost_of_a_page(clients):
    token = await sign_up(clients, "pager")
    wide = "stories(first: {n}) {{ edges {{ node {{ id title url description tags {{ id name color createdAt }} }} }} }}"
    aliases = " ".join(f"a{k}: " + wide for k in range(10))
    await assert_refused(clients, "{ library { " + aliases.format(n=100) + " } }", says=LIMIT)
    data = await clients.data("{ library { " + aliases.format(n=5) + " } }", token=token)
    assert data["library"]["a0"] == {"edges": []}
    # From a variable, a page may be as large as any: it is costed so.
    by_variable = "query($n: Int) { library { " + aliases.format(n="$n") + " } }"
    await assert_refused(clients, by_variable, says=LIMIT)


@pytest.mark.gen_test
async def test_fragments_cost_where_they_are_spread(clients):
    fragment = (
        "fragment Whole on Story { id title url description createdAt tags { id name color } }"
    )
    spreads = " ".join(
        f"a{k}: stories(first: 100) {{ edges {{ node {{ ...Whole }} }} }}" for k in range(6)
    )
    await assert_refused(clients, f"{{ library {{ {spreads} }} }} {fragment}", says=LIMIT)


def library_page_query() -> str:
    """The query the library page sends, read from its script."""
    scripts = "\n".join(
        (PROJECT_ROOT / "static/js" / name).read_text()
        for name in ("library.js", "library-state.js")
    )
    constants = {
        name: text or number
        for name, text, number in re.findall(r'const ([A-Z]+) = (?:"([^"]+)"|(\d+));', scripts)
    }
    library = re.search(r"const LIBRARY = `([^`]+)`;", scripts)
    assert library, "the library page's query moved; update this test"
    query = re.sub(r"\$\{([A-Z]+)\}", lambda name: constants[name.group(1)], library.group(1))
    assert "${" not in query, "the library page's query uses a constant this test cannot read"
    return query


@pytest.mark.gen_test
async def test_the_explorers_and_the_pages_own_queries_stay_under_the_limit(clients):
    for options in ({}, {"specified_by_url": True, "directive_is_repeatable": True}):
        data = await clients.data(get_introspection_query(descriptions=True, **options))
        assert data["__schema"]["queryType"]["name"] == "Query"
    token = await sign_up(clients, "reader")
    data = await clients.data(library_page_query(), {"tagId": None}, token=token)
    assert data["library"]["all"]["totalCount"] == 0


@pytest.mark.gen_test
async def test_an_operation_past_its_time_budget_stops_with_one_error_and_changes_nothing(
    clients, app
):
    executor = app.settings["services"].executor
    assert executor.budget == EXECUTION_BUDGET
    executor.budget = 0.0  # every field is past it
    reply = await clients.graphql(
        'mutation { a: incrementCounter(name: "late") { value } b: incrementCounter(name: "late") { value } }'
    )
    assert reply.status == 200, reply.body
    assert reply.body["data"] is None
    (error,) = reply.body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "ran for more than 0 ms and was stopped" in error["message"]
    assert Counter.lookup("late").value == 0
    executor.budget = EXECUTION_BUDGET
    await still_served(clients)


@pytest.mark.gen_test(timeout=60)
async def test_the_document_cache_stays_within_its_bytes(clients, app):
    documents = app.settings["services"].executor.documents
    padding = 900 * 1024
    sent = 0
    for number in range(48):
        query = f"{{ n{number}: __typename }} # {'x' * padding}"
        sent += len(query)
        assert await clients.data(query) == {f"n{number}": "Query"}
        assert documents.bytes <= documents.max_bytes
    assert sent > documents.max_bytes  # so some had to go
    assert 0 < len(documents) < 48
    # A hot query is kept and found again.
    hot = "{ hot: __typename }"
    await clients.data(hot)
    size = len(documents)
    await clients.data(hot)
    assert len(documents) == size


def many(template: str, times: int) -> str:
    return "{ " + " ".join(template.format(n=n) for n in range(times)) + " }"


def spread_fragments(times: int) -> str:
    fragments = " ".join(
        f'fragment F{n} on Query {{ x: counter(name: "f{n}") {{ value }} }}' for n in range(times)
    )
    return many("...F{n}", times) + " " + fragments


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize(
    ("query", "says"),
    [
        # Fields that must merge: the standard rule compares them in pairs,
        # so our limits are checked first, alone.
        (many('x: counter(name: "d{n}") {{ value }}', 1000), "selects 2000 fields"),
        (many('x: counter(name: "d{n}") {{ value }}', 400), "'x' is selected 400 times"),
        (many("x: __typename", 1000), "'x' is selected 1000 times"),
        # The same through fragments, each merged where it is spread.
        (spread_fragments(600), "selects 1200 fields"),
        (spread_fragments(300), "'x' is selected 300 times"),
        (many("a{n}: __typename ...F", 3000) + " fragment F on Query { __typename }", "selects"),
        (
            many("a{n}: __typename ...F", 400) + " fragment F on Query { __typename }",
            "'__typename' is selected 400 times",
        ),
    ],
)
async def test_one_name_selected_many_times_is_refused_before_fields_are_compared(
    clients, query, says
):
    error = await assert_refused(clients, query, says=says)
    assert "the limit is" in error["message"]
    await still_served(clients)


@pytest.mark.gen_test
async def test_a_field_spread_from_many_fragments_is_fine(clients):
    # As generated clients do: `value` asked by 20 fragments of one selection.
    fragments = " ".join(f"fragment V{n} on Counter {{ value }}" for n in range(20))
    spreads = " ".join(f"...V{n}" for n in range(20))
    data = await clients.data(f'{{ counter(name: "merged") {{ {spreads} }} }} {fragments}')
    assert data == {"counter": {"value": 0}}


@pytest.mark.gen_test
async def test_typename_counts_towards_the_field_limit(clients):
    await assert_refused(clients, many("t{n}: __typename", 1001), says="selects 1001 fields")
