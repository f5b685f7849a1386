"""Counters over GraphQL: the lifecycle, history, paging, limits, races."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from tornado.httpclient import AsyncHTTPClient

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)

EVENT = """type value previousValue timestamp actor { username }
  metadata { id name value operationCount createdAt updatedAt }"""


@pytest.mark.gen_test
async def test_a_counter_exists_at_zero_before_its_first_operation(clients):
    data = await clients.data(
        '{ counter(name: "fresh") { id name value createdAt updatedAt operationCount history { totalCount edges { cursor } } } }'
    )
    counter = data["counter"]
    assert counter["value"] == 0
    assert counter["createdAt"] is None
    assert counter["updatedAt"] is None
    assert counter["operationCount"] == 0
    assert counter["history"] == {"totalCount": 0, "edges": []}
    # The id comes from the name alone, so it is the same after the first change.
    changed = await clients.data(f'mutation {{ incrementCounter(name: "fresh") {{ {EVENT} }} }}')
    assert changed["incrementCounter"]["metadata"]["id"] == counter["id"]


@pytest.mark.gen_test
async def test_the_whole_lifecycle_of_a_counter(clients):
    inc = (
        await clients.data(
            f'mutation {{ incrementCounter(name: "life", amount: 5) {{ {EVENT} }} }}'
        )
    )["incrementCounter"]
    assert (inc["type"], inc["previousValue"], inc["value"]) == ("increment", 0, 5)
    assert inc["actor"] is None
    assert inc["metadata"]["operationCount"] == 1
    assert inc["timestamp"].endswith("Z")
    assert len(inc["timestamp"]) == len("2025-01-15T12:00:01.000Z")

    dec = (await clients.data(f'mutation {{ decrementCounter(name: "life") {{ {EVENT} }} }}'))[
        "decrementCounter"
    ]
    assert (dec["type"], dec["previousValue"], dec["value"]) == ("decrement", 5, 4)

    set_ = (
        await clients.data(f'mutation {{ setCounterValue(name: "life", value: -7) {{ {EVENT} }} }}')
    )["setCounterValue"]
    assert (set_["type"], set_["previousValue"], set_["value"]) == ("setValue", 4, -7)

    reset = (await clients.data(f'mutation {{ resetCounter(name: "life") {{ {EVENT} }} }}'))[
        "resetCounter"
    ]
    assert (reset["type"], reset["previousValue"], reset["value"]) == ("reset", -7, 0)
    assert reset["metadata"]["operationCount"] == 4
    assert reset["metadata"]["createdAt"] == inc["metadata"]["createdAt"]

    data = await clients.data(
        '{ counter(name: "life") { value operationCount history { totalCount edges { node { type previousValue value timestamp actor { id } } } } } }'
    )
    history = data["counter"]["history"]
    assert history["totalCount"] == 4
    assert [
        (e["node"]["type"], e["node"]["previousValue"], e["node"]["value"])
        for e in history["edges"]
    ] == [
        ("reset", -7, 0),
        ("setValue", 4, -7),
        ("decrement", 5, 4),
        ("increment", 0, 5),
    ]


@pytest.mark.gen_test
async def test_history_pages_newest_first_without_gaps(clients):
    for _ in range(25):
        await clients.data('mutation { incrementCounter(name: "paged") { value } }')
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        data = await clients.data(
            'query($after: String) { counter(name: "paged") { history(first: 10, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { value } } } } }',
            {"after": after},
        )
        history = data["counter"]["history"]
        assert history["totalCount"] == 25
        seen += [edge["node"]["value"] for edge in history["edges"]]
        pages += 1
        if not history["pageInfo"]["hasNextPage"]:
            break
        after = history["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == list(range(25, 0, -1))


@pytest.mark.gen_test
async def test_counters_lists_stored_counters_most_recently_changed_first(clients):
    for name in ("first", "second", "third"):
        await clients.data(
            "mutation($n: String!) { incrementCounter(name: $n) { value } }", {"n": name}
        )
    await clients.data('mutation { incrementCounter(name: "first") { value } }')
    await clients.data('{ counter(name: "never-stored") { value } }')  # reading stores nothing

    data = await clients.data(
        "{ counters(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { name value } } } }"
    )
    page = data["counters"]
    assert page["totalCount"] == 3
    assert [e["node"]["name"] for e in page["edges"]] == ["first", "third"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await clients.data(
        "query($a: String) { counters(first: 2, after: $a) { pageInfo { hasNextPage } edges { node { name } } } }",
        {"a": page["pageInfo"]["endCursor"]},
    )
    assert [e["node"]["name"] for e in rest["counters"]["edges"]] == ["second"]
    assert rest["counters"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.gen_test
async def test_node_finds_a_counter_by_its_global_id(clients):
    await clients.data('mutation { setCounterValue(name: "noded", value: 9) { value } }')
    counter_id = (await clients.data('{ counter(name: "noded") { id } }'))["counter"]["id"]
    data = await clients.data(
        "query($id: ID!) { node(id: $id) { __typename id ... on Counter { name value } } }",
        {"id": counter_id},
    )
    assert data["node"] == {"__typename": "Counter", "id": counter_id, "name": "noded", "value": 9}


@pytest.mark.gen_test
async def test_node_with_a_foreign_id_is_a_bad_user_input(clients):
    reply = await clients.graphql('{ node(id: "not base64 at all!") { id } }')
    assert reply.body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "name",
    ["", "has space", "slash/inside", "é", "x" * 65, "semi;colon", "quote'"],
)
@pytest.mark.gen_test
async def test_bad_counter_names_are_refused_and_store_nothing(clients, name):
    reply = await clients.graphql(
        "mutation($n: String!) { incrementCounter(name: $n) { value } }", {"n": name}
    )
    error = reply.body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "1 to 64 characters" in error["message"]
    data = await clients.data("{ counters { totalCount } }")
    assert data["counters"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("start", "operation", "why"),
    [
        (INT_MAX, 'incrementCounter(name: "edge") { value }', "increment past the top"),
        (INT_MIN, 'decrementCounter(name: "edge") { value }', "decrement past the bottom"),
        (
            0,
            f'a: incrementCounter(name: "edge", amount: {INT_MAX}) {{ value }} b: incrementCounter(name: "edge") {{ value }}',
            "two steps",
        ),
        (-5, f'decrementCounter(name: "edge", amount: {INT_MAX}) {{ value }}', "a large amount"),
    ],
)
@pytest.mark.gen_test
async def test_operations_leaving_the_32_bit_range_change_nothing(clients, start, operation, why):
    await clients.data(
        'mutation($v: Int!) { setCounterValue(name: "edge", value: $v) { value } }', {"v": start}
    )
    before = await clients.data('{ counter(name: "edge") { value operationCount } }')
    reply = await clients.graphql(f"mutation {{ {operation} }}")
    codes = [error["extensions"]["code"] for error in reply.body["errors"]]
    assert codes == ["BAD_USER_INPUT"], why
    assert "32-bit" in reply.body["errors"][0]["message"]
    after = await clients.data('{ counter(name: "edge") { value operationCount } }')
    if why == "two steps":
        # The first step fitted and was applied; only the second was refused.
        assert after["counter"]["value"] == INT_MAX
        assert after["counter"]["operationCount"] == before["counter"]["operationCount"] + 1
    else:
        assert after == before


@pytest.mark.gen_test
async def test_amounts_outside_graphql_int_are_refused_by_the_schema(clients):
    reply = await clients.graphql(
        'mutation($a: Int!) { incrementCounter(name: "c", amount: $a) { value } }', {"a": 2**31}
    )
    assert reply.status == 400
    assert "data" not in reply.body
    assert reply.body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("first", [-1, 101])
@pytest.mark.gen_test
async def test_page_sizes_outside_0_to_100_are_refused(clients, first):
    reply = await clients.graphql(
        "query($f: Int) { counters(first: $f) { totalCount } }", {"f": first}
    )
    error = reply.body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "first" in error["message"]


@pytest.mark.gen_test
async def test_a_cursor_the_server_did_not_make_is_refused(clients):
    reply = await clients.graphql('{ counters(after: "bm9wZQ==") { totalCount } }')
    assert reply.body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.gen_test(timeout=60)
async def test_400_concurrent_increments_from_8_clients_count_exactly_400(clients):
    body = orjson.dumps(
        {"query": 'mutation { incrementCounter(name: "race") { value previousValue } }'}
    )
    http_clients = [AsyncHTTPClient(force_instance=True, max_clients=10) for _ in range(8)]

    async def client_run(client: AsyncHTTPClient) -> list[tuple[int, int]]:
        async def one() -> tuple[int, int]:
            response = await client.fetch(
                clients.base_url + "/graphql",
                method="POST",
                body=body,
                headers={"Content-Type": "application/json"},
            )
            result = orjson.loads(response.body)["data"]["incrementCounter"]
            return result["previousValue"], result["value"]

        return list(await asyncio.gather(*(one() for _ in range(50))))

    try:
        results = await asyncio.gather(*(client_run(c) for c in http_clients))
    finally:
        for client in http_clients:
            client.close()
    pairs = [pair for run in results for pair in run]
    assert len(pairs) == 400
    assert sorted(value for _, value in pairs) == list(range(1, 401))
    assert all(value == previous + 1 for previous, value in pairs)

    data = await clients.data(
        '{ counter(name: "race") { value operationCount history(first: 100) { totalCount } } }'
    )
    assert data["counter"]["value"] == 400
    assert data["counter"]["operationCount"] == 400
    assert data["counter"]["history"]["totalCount"] == 400
    rows = 0
    after = None
    while True:
        page = (
            await clients.data(
                'query($a: String) { counter(name: "race") { history(first: 100, after: $a) { pageInfo { hasNextPage endCursor } edges { node { value } } } } }',
                {"a": after},
            )
        )["counter"]["history"]
        rows += len(page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert rows == 400


@pytest.mark.gen_test
async def test_an_explicit_null_amount_means_the_default_of_one(clients):
    data = await clients.data(
        'mutation($a: Int) { incrementCounter(name: "nulled", amount: $a) { value } }', {"a": None}
    )
    assert data["incrementCounter"]["value"] == 1
    data = await clients.data(
        'mutation { decrementCounter(name: "nulled", amount: null) { value } }'
    )
    assert data["decrementCounter"]["value"] == 0
