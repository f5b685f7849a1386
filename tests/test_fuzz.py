"""Fuzzing (hypothesis): random frames at both sockets, random documents
and variables at /graphql. The server never crashes, never answers 500,
never sends one user's data to another, and every connection not at fault
keeps working."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.processes import ServerProcess

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KNOWN_CODES = {
    "BAD_USER_INPUT",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
}
SECRET = "ada-only-secret-7f3c"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "type",
    "id",
    "payload",
    "query",
    "variables",
    "amount",
    "value",
    "filters",
    "operationTypes",
    "offset",
    "epoch",
    "token",
    "operationName",
]
TYPES = [
    "ping",
    "pong",
    "increment",
    "decrement",
    "setValue",
    "reset",
    "subscribe",
    "resume",
    "connection_init",
    "complete",
    "next",
    "error",
    "bogus",
]
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES) | json_scalars},
    optional={key: json_values for key in KEYS if key != "type"},
)
frames = (
    messages.map(json.dumps)
    | json_values.map(json.dumps)
    | st.text(max_size=200)
    | st.binary(max_size=200)
)


class Server:
    def __init__(self, url: str, ws: str) -> None:
        self.url, self.ws = url, ws

    def post(self, body: bytes, token: str | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + "/graphql", data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def graphql(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        return self.post(
            json.dumps({"query": query, "variables": variables or {}}).encode(), token
        )[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    running = ServerProcess(tmp_path_factory.mktemp("fuzz")).start()
    yield Server(running.url, running.ws)
    assert running.process.poll() is None, "the server crashed during fuzzing"
    running.stop()


@pytest.fixture(scope="module")
def users(server: Server) -> dict[str, str]:
    tokens = {}
    for name in ("ada_fuzz", "bob_fuzz"):
        reply = server.graphql(
            f'mutation {{ signUp(username: "{name}", password: "correct horse") {{ token }} }}'
        )
        tokens[name] = reply["data"]["signUp"]["token"]
    ada = tokens["ada_fuzz"]
    story = server.graphql(
        f'mutation {{ createStory(url: "https://example.com/{SECRET}", title: "{SECRET}") {{ id }} }}',
        token=ada,
    )
    tag = server.graphql(
        f'mutation {{ createTag(name: "{SECRET}", color: "#123") {{ id }} }}', token=ada
    )
    tokens["story"] = story["data"]["createStory"]["id"]
    tokens["tag"] = tag["data"]["createTag"]["id"]
    return tokens


#: Every frame type counter-ws.md lets the server send.
COUNTER_FRAMES = {
    "snapshot",
    "increment",
    "decrement",
    "setValue",
    "reset",
    "pong",
    "subscribed",
    "error",
    "incrementResult",
    "decrementResult",
    "setValueResult",
    "resetResult",
    "presence",
}


def still_works(socket: ClientConnection, graphql_ws: bool) -> None:
    """Pings and expects the pong, past any frames still on their way (a
    fuzzed `increment` is answered with its result, then its broadcast)."""
    socket.send(json.dumps({"type": "ping"}))
    while True:
        reply = json.loads(socket.recv(timeout=5))
        if reply["type"] == "pong":
            return
        assert graphql_ws or reply["type"] in COUNTER_FRAMES


@FUZZ
@given(frame=frames)
@example(frame='{"type": "increment"}')  # answered twice: result, then broadcast
@example(frame='{"type": "setValue", "value": 3}')
@example(frame='{"type": "resume", "offset": 0, "epoch": "elsewhere"}')  # reset
def test_random_frames_at_the_counter_socket_get_answers_not_crashes(server, frame):
    with connect(server.ws + "/ws/counter/fuzz", open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=5))["type"] == "snapshot"
        socket.send(frame)
        reply = json.loads(socket.recv(timeout=5))
        assert reply["type"] in COUNTER_FRAMES
        if reply["type"] == "error":
            assert reply["message"]
            assert "Traceback" not in reply["message"]
        still_works(socket, graphql_ws=False)


@FUZZ
@given(frame=frames)
def test_random_frames_at_the_graphql_socket_never_break_the_server_or_others(server, frame):
    with connect(
        server.ws + "/graphql", subprotocols=["graphql-transport-ws"], open_timeout=10
    ) as bystander:
        bystander.send('{"type":"connection_init"}')
        assert json.loads(bystander.recv(timeout=5))["type"] == "connection_ack"
        with connect(
            server.ws + "/graphql", subprotocols=["graphql-transport-ws"], open_timeout=10
        ) as socket:
            socket.send('{"type":"connection_init"}')
            socket.recv(timeout=5)
            socket.send(frame)
            close_code: int | None = None
            try:
                while True:
                    reply = json.loads(socket.recv(timeout=0.3))
                    assert reply["type"] in {"pong", "next", "error", "complete", "connection_ack"}
            except TimeoutError:
                still_works(socket, graphql_ws=True)  # not closed: it must still work
            except ConnectionClosed as closed:
                close_code = closed.rcvd.code if closed.rcvd is not None else -1
            if close_code is not None:
                # Closed only for the client's own fault, never for a server error.
                assert 4400 <= close_code < 4500 or close_code in (1000, 1008, 1009)
        still_works(bystander, graphql_ws=True)


documents = st.one_of(
    st.text(max_size=120),
    st.lists(
        st.sampled_from(
            [
                "{",
                "}",
                "(",
                ")",
                ":",
                "...",
                "query",
                "mutation",
                "subscription",
                "fragment F on Counter",
                "counter",
                "counters",
                "node",
                "library",
                "viewer",
                "stories",
                "tags",
                "value",
                "id",
                "name:",
                '"x"',
                "$v",
                "first:",
                "100",
                "-1",
                "@skip(if: true)",
                "__typename",
                "__schema",
                "on",
            ]
        ),
        max_size=30,
    ).map(" ".join),
)


@FUZZ
@given(query=documents, variables=json_values, operation=st.none() | st.text(max_size=10))
def test_random_documents_get_clear_errors_never_500(server, query, variables, operation):
    body = json.dumps({"query": query, "variables": variables, "operationName": operation}).encode()
    status, reply = server.post(body)
    assert status in (200, 400, 405)
    if "errors" in reply:
        for error in reply["errors"]:
            assert error["extensions"]["code"] in KNOWN_CODES, error
            assert "Traceback" not in error["message"]


PROBES = [
    "query($id: ID!) {{ node(id: $id) {{ id ... on Story {{ title url }} ... on Tag {{ name }} }} }}",
    'mutation($id: ID!) {{ updateStory(id: $id, title: "{text}") {{ title url }} }}',
    "mutation($id: ID!) {{ deleteStory(id: $id) }}",
    'mutation($id: ID!) {{ updateTag(id: $id, name: "{text}") {{ name }} }}',
    "mutation($id: ID!) {{ deleteTag(id: $id) }}",
    "mutation($id: ID!) {{ tagStory(storyId: $id, tagIds: [$id]) {{ title tags {{ name }} }} }}",
    "query($id: ID) {{ library {{ stories(tagId: $id) {{ edges {{ node {{ title }} }} }} tags {{ edges {{ node {{ name }} }} }} }} }}",
]


@FUZZ
@given(
    template=st.sampled_from(PROBES),
    which=st.sampled_from(["story", "tag", "junk"]),
    text=st.text(alphabet="abc", max_size=8),
)
def test_no_probe_by_another_user_reaches_a_users_library(server, users, template, which, text):
    target = users[which] if which != "junk" else "U3Rvcnk6MQ=="
    reply = server.graphql(template.format(text=text), {"id": target}, token=users["bob_fuzz"])
    assert SECRET not in json.dumps(reply)
    # And the owner's library is untouched.
    ada = server.graphql(
        "{ library { stories { edges { node { title } } } tags { edges { node { name } } } } }",
        token=users["ada_fuzz"],
    )
    assert ada["data"]["library"]["stories"]["edges"] == [{"node": {"title": SECRET}}]
    assert ada["data"]["library"]["tags"]["edges"] == [{"node": {"name": SECRET}}]
