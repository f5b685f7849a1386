"""graphql-transport-ws at /graphql, frame by frame and close code by code."""

from __future__ import annotations

import asyncio

import pytest
from tornado.httpclient import HTTPClientError

from app.events import counter_topic
from app.protocols.graphql_ws import MAX_OPERATIONS
from tests.clients import bearer, open_graphql_socket, sign_up
from tests.waiting import until

COUNTER_SUB = 'subscription { counter(name: "live") { type value } }'


async def acked(clients, **kwargs):
    socket = await open_graphql_socket(clients, **kwargs)
    await socket.init()
    return socket


@pytest.mark.gen_test
async def test_the_server_picks_graphql_transport_ws_from_the_offered_list(clients):
    socket = await open_graphql_socket(clients, subprotocols=["graphql-ws", "graphql-transport-ws"])
    assert socket.connection.selected_subprotocol == "graphql-transport-ws"
    assert (await socket.init()) == {"type": "connection_ack"}


@pytest.mark.parametrize("offered", [["graphql-ws"], []])
@pytest.mark.gen_test
async def test_any_other_subprotocol_is_closed_with_4406(clients, offered):
    socket = await open_graphql_socket(clients, subprotocols=offered)
    assert await socket.closed() == (4406, "Subprotocol not acceptable")


@pytest.mark.gen_test
async def test_ping_gets_pong_echoing_its_payload_before_and_after_init(clients):
    socket = await open_graphql_socket(clients)
    await socket.send({"type": "ping"})
    assert await socket.receive() == {"type": "pong"}
    await socket.init()
    await socket.send({"type": "ping", "payload": {"t": 1}})
    assert await socket.receive() == {"type": "pong", "payload": {"t": 1}}
    await socket.send({"type": "pong"})  # a heartbeat: no answer
    await socket.nothing_more()


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        b"\x00binary",
        "[1]",
        '{"type": "explode"}',
        '{"no": "type"}',
        '{"type": "subscribe", "payload": {"query": "{ __typename }"}}',
        '{"type": "subscribe", "id": "", "payload": {"query": "{ __typename }"}}',
        '{"type": "subscribe", "id": "1"}',
        '{"type": "subscribe", "id": "1", "payload": {"query": 5}}',
        '{"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }", "variables": [1]}}',
        '{"type": "complete"}',
        '{"type": "ping", "payload": 5}',
        '{"type": ["subscribe"]}',
        '{"type": {"a": 1}}',
        '{"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }", "operationName": 0}}',
    ],
)
@pytest.mark.gen_test
async def test_a_malformed_message_closes_with_4400(clients, frame):
    socket = await acked(clients)
    await socket.send(frame)
    code, reason = await socket.closed()
    assert code == 4400
    assert reason


@pytest.mark.gen_test
async def test_subscribe_before_ack_closes_with_4401(clients):
    socket = await open_graphql_socket(clients)
    await socket.subscribe("1", "{ __typename }")
    assert await socket.closed() == (4401, "Unauthorized")


@pytest.mark.gen_test
async def test_a_second_init_closes_with_4429(clients):
    socket = await acked(clients)
    await socket.send({"type": "connection_init"})
    assert await socket.closed() == (4429, "Too many initialisation requests")


@pytest.mark.gen_test
async def test_an_invalid_token_in_the_init_payload_closes_with_4403(clients):
    socket = await open_graphql_socket(clients)
    await socket.send({"type": "connection_init", "payload": {"token": "wrong"}})
    code, _ = await socket.closed()
    assert code == 4403


@pytest.mark.gen_test
async def test_a_duplicate_operation_id_closes_with_4409(clients):
    socket = await acked(clients)
    await socket.subscribe("dup", COUNTER_SUB)
    await socket.subscribe("dup", COUNTER_SUB)
    assert await socket.closed() == (4409, "Subscriber for dup already exists")


@pytest.mark.parametrize(
    "op_id", ["é" * 80, "😀" * 40, "x" * 500], ids=["two-byte", "four-byte", "long"]
)
@pytest.mark.gen_test
async def test_a_duplicate_long_or_non_ascii_id_still_closes_with_4409(clients, op_id):
    socket = await acked(clients)
    await socket.subscribe(op_id, COUNTER_SUB)
    await socket.subscribe(op_id, COUNTER_SUB)
    code, reason = await socket.closed()
    assert code == 4409
    assert reason.startswith("Subscriber for ")
    assert len(reason.encode()) <= 123  # what a close frame can carry


SLOW_SIGN_UP = 'mutation { signUp(username: "slowpoke", password: "correct horse") { token } }'


@pytest.mark.gen_test
async def test_a_duplicate_id_while_its_operation_is_in_flight_is_4409(clients):
    socket = await acked(clients)
    await socket.subscribe("1", SLOW_SIGN_UP)  # hashing keeps it in flight ~0.2 s
    await socket.subscribe("1", "{ __typename }")
    frames = []
    while (frame := await asyncio.wait_for(socket.connection.read_message(), 5)) is not None:
        frames.append(frame)
    socket.connection.close()
    assert socket.connection.close_code == 4409
    assert frames == []


@pytest.mark.gen_test
async def test_complete_while_in_flight_drops_the_result(clients):
    socket = await acked(clients)
    await socket.subscribe("gone", SLOW_SIGN_UP)
    await socket.send({"id": "gone", "type": "complete"})
    await socket.subscribe("after", "{ __typename }")
    assert await socket.next_payload("after") == {"data": {"__typename": "Query"}}
    assert await socket.receive() == {"id": "after", "type": "complete"}
    await socket.nothing_more(0.5)


@pytest.mark.gen_test
async def test_a_frame_over_64_kib_closes_with_1009(clients):
    socket = await acked(clients)
    await socket.subscribe("big", "{ __typename }" + " " * (64 * 1024))
    code, _ = await socket.closed()
    assert code == 1009


@pytest.mark.gen_test
async def test_a_query_over_the_socket_gets_one_next_then_complete(clients):
    socket = await acked(clients)
    await socket.subscribe(
        "q",
        "query Q($n: String!) { counter(name: $n) { name value } }",
        {"n": "sock"},
        operationName="Q",
    )
    assert await socket.next_payload("q") == {"data": {"counter": {"name": "sock", "value": 0}}}
    assert await socket.receive() == {"id": "q", "type": "complete"}
    # The id is free again once the operation is done.
    await socket.subscribe("q", "{ __typename }")
    assert await socket.next_payload("q") == {"data": {"__typename": "Query"}}


@pytest.mark.gen_test
async def test_a_mutation_over_the_socket_records_the_init_token_user(clients):
    token = await sign_up(clients, "socketeer")
    socket = await open_graphql_socket(clients)
    await socket.init({"token": token})
    await socket.subscribe(
        "m",
        'mutation { incrementCounter(name: "viasock", amount: 2) { value actor { username } } }',
    )
    payload = await socket.next_payload("m")
    assert payload == {
        "data": {"incrementCounter": {"value": 2, "actor": {"username": "socketeer"}}}
    }
    assert (await socket.receive())["type"] == "complete"


@pytest.mark.gen_test
async def test_the_upgrade_authenticates_with_a_header_or_refuses_a_bad_one(clients):
    token = await sign_up(clients, "headed")
    socket = await open_graphql_socket(clients, headers=bearer(token))
    await socket.init()
    await socket.subscribe("v", "{ viewer { username } }")
    assert await socket.next_payload("v") == {"data": {"viewer": {"username": "headed"}}}
    with pytest.raises(HTTPClientError) as refused:
        await open_graphql_socket(clients, headers=bearer("revoked-or-wrong"))
    assert refused.value.code == 401


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ nothing }", "GRAPHQL_VALIDATION_FAILED"),
        ("{", "GRAPHQL_PARSE_FAILED"),
        ('subscription { counter(name: "bad name") { value } }', "BAD_USER_INPUT"),
        ('subscription { channel(name: "library") { __typename } }', "UNAUTHENTICATED"),
        ('subscription { channel(name: "gossip") { __typename } }', "BAD_USER_INPUT"),
        ("subscription($n: String!) { counter(name: $n) { value } }", "BAD_USER_INPUT"),
    ],
)
@pytest.mark.gen_test
async def test_a_failing_operation_gets_an_error_message_and_the_connection_stays(
    clients, query, code
):
    socket = await acked(clients)
    await socket.subscribe("bad", query)
    message = await socket.receive()
    assert message["type"] == "error"
    assert message["id"] == "bad"
    assert isinstance(message["payload"], list)
    assert message["payload"][0]["extensions"]["code"] == code
    # No complete follows an error, and the connection still works.
    await socket.send({"type": "ping"})
    assert await socket.receive() == {"type": "pong"}


@pytest.mark.gen_test
async def test_a_subscription_gets_exactly_the_fields_it_selected(clients, registry):
    socket = await acked(clients)
    query = """
      subscription Watch($name: String!) {
        update: counter(name: $name) {
          __typename
          ...Values
          meta: metadata { name operationCount }
        }
      }
      fragment Values on CounterUpdateEvent { kind: type value previousValue }
    """
    await socket.subscribe("w", query, {"name": "exact"})
    await until(lambda: registry.subscribers(counter_topic("exact")), "the subscription to join")
    await clients.data('mutation { incrementCounter(name: "exact", amount: 3) { value } }')
    payload = await socket.next_payload("w")
    epoch = payload["extensions"]["stream"]["epoch"]
    assert isinstance(epoch, str)
    assert epoch
    assert payload == {
        "data": {
            "update": {
                "__typename": "CounterUpdateEvent",
                "kind": "increment",
                "value": 3,
                "previousValue": 0,
                "meta": {"name": "exact", "operationCount": 1},
            }
        },
        "extensions": {"stream": {"offset": 1, "epoch": epoch}},
    }


@pytest.mark.gen_test
async def test_the_counter_subscription_and_the_plain_socket_hear_the_same_change(
    clients, registry
):
    plain = await clients.counter_socket("live")
    socket = await acked(clients)
    await socket.subscribe(
        "c",
        'subscription { counter(name: "live") { type value previousValue timestamp metadata { operationCount updatedAt } } }',
    )
    for _ in range(50):
        if len(registry.subscribers(counter_topic("live"))) == 2:
            break
        await asyncio.sleep(0.01)
    await plain.send({"type": "increment", "amount": 4})
    assert (await plain.receive())["type"] == "incrementResult"
    event = await plain.receive()
    payload = (await socket.next_payload("c"))["data"]["counter"]
    assert payload == {
        "type": event["type"],
        "value": event["value"],
        "previousValue": event["previousValue"],
        "timestamp": event["timestamp"],
        "metadata": {
            "operationCount": event["metadata"]["operationCount"],
            "updatedAt": event["metadata"]["updatedAt"],
        },
    }


@pytest.mark.gen_test
async def test_complete_stops_delivery_at_once_and_leaves_nothing_behind(clients, registry):
    socket = await acked(clients)
    await socket.subscribe("s", COUNTER_SUB)
    await until(lambda: registry.subscribers(counter_topic("live")), "the subscription to join")
    await clients.data('mutation { incrementCounter(name: "live") { value } }')
    assert (await socket.next_payload("s"))["data"]["counter"]["value"] == 1
    await socket.send({"id": "s", "type": "complete"})
    await until(lambda: not registry.subscribers(counter_topic("live")), "the complete to land")
    await clients.data('mutation { incrementCounter(name: "live") { value } }')
    await socket.nothing_more()  # no next, and no complete echoed back
    assert counter_topic("live") not in registry.topics()


@pytest.mark.gen_test
async def test_closing_the_socket_ends_all_its_subscriptions(clients, registry):
    socket = await acked(clients)
    for n in range(5):
        await socket.subscribe(str(n), f'subscription {{ counter(name: "c{n}") {{ value }} }}')
    for _ in range(50):
        if len(registry.topics()) == 5:
            break
        await asyncio.sleep(0.01)
    assert len(registry.topics()) == 5
    socket.connection.stream.close()  # abrupt: no close frame
    for _ in range(100):
        if not registry.topics():
            break
        await asyncio.sleep(0.02)
    assert registry.topics() == {}


@pytest.mark.gen_test(timeout=30)
async def test_at_most_100_operations_run_at_once_on_one_connection(clients):
    socket = await acked(clients)
    for n in range(MAX_OPERATIONS):
        await socket.subscribe(str(n), COUNTER_SUB)
    await socket.subscribe("one-too-many", COUNTER_SUB)
    message = await socket.receive()
    assert message["type"] == "error"
    assert message["id"] == "one-too-many"
    assert "At most 100" in message["payload"][0]["message"]
    await clients.data('mutation { incrementCounter(name: "live") { value } }')
    ids = {(await socket.receive())["id"] for _ in range(MAX_OPERATIONS)}
    assert ids == {str(n) for n in range(MAX_OPERATIONS)}


@pytest.mark.gen_test
async def test_signing_out_closes_that_credentials_sockets_with_4403(clients):
    token = await sign_up(clients, "outgoing")
    other_token = await sign_up(clients, "staying")
    watcher = await open_graphql_socket(clients)
    await watcher.init({"token": token})
    plain = await clients.counter_socket("x", token=token)
    bystander = await open_graphql_socket(clients)
    await bystander.init({"token": other_token})

    actor = await open_graphql_socket(clients)
    await actor.init({"token": token})
    await actor.subscribe("out", "mutation { signOut }")
    assert await actor.next_payload("out") == {"data": {"signOut": True}}
    assert await actor.receive() == {"id": "out", "type": "complete"}
    for socket in (actor, watcher, plain):
        code, _ = await socket.closed()
        assert code == 4403
    await bystander.send({"type": "ping"})
    assert await bystander.receive() == {"type": "pong"}
    # The token is dead for HTTP as well.
    assert (await clients.graphql("{ viewer { username } }", headers=bearer(token))).status == 401


@pytest.mark.gen_test
async def test_a_field_error_in_one_event_arrives_as_next_and_the_subscription_goes_on(
    clients, registry
):
    socket = await acked(clients)
    await socket.subscribe(
        "e",
        'subscription { counter(name: "erring") { value metadata { history(first: 500) { totalCount } } } }',
    )
    await until(lambda: registry.subscribers(counter_topic("erring")), "the subscription to join")
    for _ in range(2):  # one next per event: the stream stays open after an error
        await clients.data('mutation { incrementCounter(name: "erring") { value } }')
        payload = await socket.next_payload("e")
        assert payload["data"] is None
        assert payload["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert payload["errors"][0]["path"] == ["counter", "metadata", "history"]
