"""The plain counter socket, row by row against counter-ws.md."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.asyncio import client as ws_client
from websockets.exceptions import InvalidStatus

from app.events import counter_presence_key, counter_topic, presence_topic


@pytest.mark.gen_test
async def test_the_first_frame_is_a_snapshot_of_the_current_state(clients):
    await clients.data('mutation { setCounterValue(name: "snap", value: 41) { value } }')
    socket = await clients.counter_socket("snap", snapshot=False)
    snapshot = await socket.receive()
    assert snapshot["type"] == "snapshot"
    assert snapshot["value"] == 41
    metadata = snapshot["metadata"]
    assert isinstance(metadata["id"], int)
    assert metadata["name"] == "snap"
    assert metadata["value"] == 41
    assert metadata["operationCount"] == 1
    assert snapshot["timestamp"].endswith("Z")
    socket.close()


@pytest.mark.gen_test
async def test_a_counter_never_stored_snapshots_at_zero_with_null_id(clients):
    socket = await clients.counter_socket("unborn", snapshot=False)
    snapshot = await socket.receive()
    assert snapshot["value"] == 0
    assert snapshot["metadata"]["id"] is None
    assert snapshot["metadata"]["createdAt"] is None
    socket.close()


@pytest.mark.gen_test
async def test_a_graphql_change_reaches_every_watcher_in_the_seed_format(clients):
    watchers = [await clients.counter_socket("shared") for _ in range(3)]
    await clients.data('mutation { incrementCounter(name: "shared", amount: 2) { value } }')
    for watcher in watchers:
        event = await watcher.receive()
        assert event["type"] == "increment"
        assert event["value"] == 2
        assert event["previousValue"] == 0
        assert event["actor"] is None
        assert set(event["metadata"]) == {
            "id",
            "name",
            "value",
            "createdAt",
            "updatedAt",
            "operationCount",
        }
        assert event["metadata"]["value"] == 2
        assert event["timestamp"] == event["metadata"]["updatedAt"]
        watcher.close()


@pytest.mark.gen_test
async def test_watchers_of_other_counters_hear_nothing(clients):
    other = await clients.counter_socket("elsewhere")
    await clients.data('mutation { incrementCounter(name: "here") { value } }')
    await other.nothing_more()
    other.close()


@pytest.mark.gen_test
async def test_ping_gets_pong(clients):
    socket = await clients.counter_socket("pinged")
    await socket.send({"type": "ping"})
    pong = await socket.receive()
    assert pong["type"] == "pong"
    assert pong["timestamp"].endswith("Z")
    socket.close()


@pytest.mark.gen_test
async def test_operations_over_the_socket_reply_and_broadcast_to_all(clients):
    sender = await clients.counter_socket("ops")
    watcher = await clients.counter_socket("ops")
    script = [
        ({"type": "increment", "amount": 3}, "increment", 0, 3),
        ({"type": "increment"}, "increment", 3, 4),
        ({"type": "decrement", "amount": 2}, "decrement", 4, 2),
        ({"type": "decrement"}, "decrement", 2, 1),
        ({"type": "setValue", "value": 100}, "setValue", 1, 100),
        ({"type": "reset"}, "reset", 100, 0),
    ]
    for message, kind, previous, value in script:
        await sender.send(message)
        # The sender is a watcher too: it gets its result (the change is
        # durable), then hears the broadcast like everyone.
        result = await sender.receive()
        assert result["type"] == f"{kind}Result"
        broadcast = await sender.receive()
        assert (broadcast["type"], broadcast["previousValue"], broadcast["value"]) == (
            kind,
            previous,
            value,
        )
        assert result["result"] == broadcast
        heard = await watcher.receive()
        assert heard == broadcast
    data = await clients.data('{ counter(name: "ops") { value operationCount } }')
    assert data["counter"] == {"value": 0, "operationCount": 6}
    sender.close()
    watcher.close()


@pytest.mark.gen_test
async def test_a_filter_limits_the_event_types_a_socket_receives(clients):
    socket = await clients.counter_socket("filtered")
    await socket.send({"type": "subscribe", "filters": {"operationTypes": ["reset", "increment"]}})
    assert await socket.receive() == {
        "type": "subscribed",
        "filters": {"operationTypes": ["increment", "reset"]},
    }
    await clients.data('mutation { decrementCounter(name: "filtered") { value } }')
    await clients.data('mutation { incrementCounter(name: "filtered") { value } }')
    assert (await socket.receive())["type"] == "increment"
    await clients.data('mutation { setCounterValue(name: "filtered", value: 5) { value } }')
    await clients.data('mutation { resetCounter(name: "filtered") { value } }')
    assert (await socket.receive())["type"] == "reset"
    await socket.send({"type": "subscribe", "filters": None})
    assert await socket.receive() == {"type": "subscribed", "filters": None}
    await clients.data('mutation { decrementCounter(name: "filtered") { value } }')
    assert (await socket.receive())["type"] == "decrement"
    socket.close()


# Every row of the error table in counter-ws.md: the sender alone gets an
# error frame, the socket stays open and nothing changes.
BAD_FRAMES = [
    (b"\x00\x01binary", "Binary frames"),
    ("not json {", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('"a string"', "JSON object"),
    ('{"no": "type"}', "string `type`"),
    ('{"type": "explode"}', "Unknown message type 'explode'"),
    ('{"type": "increment", "amount": "3"}', "`amount` must be an integer"),
    ('{"type": "increment", "amount": 1.5}', "`amount` must be an integer"),
    ('{"type": "decrement", "amount": true}', "`amount` must be an integer"),
    ('{"type": "setValue"}', "`value` must be an integer; it is missing"),
    ('{"type": "setValue", "value": null}', "`value` must be an integer"),
    ('{"type": "setValue", "value": 2147483648}', "32-bit"),
    ('{"type": "increment", "amount": 2147483647}', "32-bit"),
    (
        '{"type": "subscribe", "filters": {"operationTypes": ["explode"]}}',
        "Unknown operation type 'explode'",
    ),
    ('{"type": "subscribe", "filters": {"operationTypes": "increment"}}', "list of strings"),
    ('{"type": "subscribe", "filters": 7}', "object or null"),
]


@pytest.mark.parametrize(("frame", "message"), BAD_FRAMES)
@pytest.mark.gen_test
async def test_a_bad_frame_gets_an_error_and_changes_nothing(clients, frame, message):
    await clients.data('mutation { setCounterValue(name: "guarded", value: 1) { value } }')
    bystander = await clients.counter_socket("guarded")
    socket = await clients.counter_socket("guarded")
    await socket.send(frame)
    error = await socket.receive()
    assert error["type"] == "error"
    assert message in error["message"]
    # Still open and working, and nothing changed or was broadcast.
    await socket.send({"type": "ping"})
    assert (await socket.receive())["type"] == "pong"
    await bystander.nothing_more()
    data = await clients.data('{ counter(name: "guarded") { value operationCount } }')
    assert data["counter"] == {"value": 1, "operationCount": 1}
    socket.close()
    bystander.close()


@pytest.mark.gen_test
async def test_a_frame_over_64_kib_closes_the_socket_with_1009(clients):
    socket = await clients.counter_socket("big")
    await socket.send('{"type": "ping", "pad": "' + "x" * (64 * 1024) + '"}')
    code, _reason = await socket.closed()
    assert code == 1009


@pytest.mark.parametrize("name", ["has%20space", "x" * 65, "semi;colon"])
@pytest.mark.gen_test
async def test_a_bad_name_is_refused_with_400_before_the_upgrade(clients, name):
    with pytest.raises(InvalidStatus) as refused:
        await ws_client.connect(f"{clients.ws_url}/ws/counter/{name}")
    response = refused.value.response
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert "1 to 64 characters" in orjson.loads(response.body)["error"]


@pytest.mark.gen_test(timeout=30)
async def test_one_change_reaches_200_sockets_exactly_once(clients):
    sockets = await asyncio.gather(*(clients.counter_socket("crowd") for _ in range(200)))
    for n in range(1, 4):
        await clients.data('mutation { incrementCounter(name: "crowd") { value } }')
        events = await asyncio.gather(*(socket.receive() for socket in sockets))
        assert {event["value"] for event in events} == {n}
    await asyncio.gather(*(socket.nothing_more(0.05) for socket in sockets[:10]))
    for socket in sockets:
        socket.close()


@pytest.mark.gen_test
async def test_closed_sockets_leave_nothing_in_the_registry(clients, registry):
    sockets = [await clients.counter_socket("tidy") for _ in range(5)]
    # Each socket also listens to the counter's presence notices.
    assert registry.topics() == {
        counter_topic("tidy"): 5,
        presence_topic(counter_presence_key("tidy")): 5,
    }
    for socket in sockets[:3]:
        socket.close()
    # An abrupt disconnect: the TCP stream dies without a close frame.
    sockets[3].connection.stream.close()
    await clients.data('mutation { incrementCounter(name: "tidy") { value } }')
    assert (await sockets[4].receive())["value"] == 1
    sockets[4].close()
    for _ in range(100):
        if not registry.topics():
            break
        await asyncio.sleep(0.02)
    assert registry.topics() == {}
