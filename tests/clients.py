"""Real clients for the tests: GraphQL over HTTP and the counter socket."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.websocket import WebSocketClientConnection, websocket_connect

TIMEOUT = 5.0


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


class CounterSocket:
    """A counter socket that reads JSON frames with a timeout.

    `presence` frames come whenever the number of watchers moves; like any
    client that does not show them (counter-ws.md: clients ignore what they
    do not use), `receive` and `nothing_more` pass over them. They are kept
    in `presence`, in order, and `watchers` waits for one.
    """

    def __init__(self, connection: WebSocketClientConnection) -> None:
        self.connection = connection
        #: The `watchers` of every presence frame read so far.
        self.presence: list[int] = []
        #: Every presence frame read so far, whole (members, joined, left).
        self.presence_frames: list[dict[str, Any]] = []
        #: Other frames read while waiting for a presence frame.
        self.held: deque[Any] = deque()

    async def send(self, message: Any) -> None:
        text = message if isinstance(message, str | bytes) else orjson.dumps(message).decode()
        await self.connection.write_message(text, binary=isinstance(message, bytes))

    async def _read(self, timeout: float) -> Any:
        frame = await asyncio.wait_for(self.connection.read_message(), timeout)
        assert frame is not None, "the server closed the socket"
        message = orjson.loads(frame)
        if isinstance(message, dict) and message.get("type") == "presence":
            self.presence.append(message["watchers"])
            self.presence_frames.append(message)
            return None
        return message

    async def receive(self, timeout: float = TIMEOUT) -> Any:
        if self.held:
            return self.held.popleft()
        deadline = time.monotonic() + timeout
        while True:
            message = await self._read(max(0.0, deadline - time.monotonic()))
            if message is not None:
                return message

    async def watchers(self, expected: int, timeout: float = TIMEOUT) -> list[int]:
        """Reads until a presence frame says `expected` (or the last one
        did); returns every watchers value seen so far."""
        deadline = time.monotonic() + timeout
        while not (self.presence and self.presence[-1] == expected):
            try:
                message = await self._read(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise AssertionError(
                    f"no presence frame said {expected}; saw {self.presence}"
                ) from None
            if message is not None:
                self.held.append(message)
        return self.presence

    async def members(
        self, expected: list[str] | None, watchers: int, timeout: float = TIMEOUT
    ) -> list[dict[str, Any]]:
        """Reads until a presence frame names `expected` (a missing
        `members` is nobody) with `watchers`; returns every presence frame."""

        def said() -> bool:
            if not self.presence_frames:
                return False
            last = self.presence_frames[-1]
            return last.get("members", []) == expected and last["watchers"] == watchers

        deadline = time.monotonic() + timeout
        while not said():
            try:
                message = await self._read(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise AssertionError(
                    f"no presence frame said {expected} of {watchers}; saw {self.presence_frames}"
                ) from None
            if message is not None:
                self.held.append(message)
        return self.presence_frames

    async def receive_type(self, kind: str, timeout: float = TIMEOUT) -> Any:
        """The next frame of type `kind`, skipping broadcast events."""
        while True:
            message = await self.receive(timeout)
            if message["type"] == kind:
                return message

    async def nothing_more(self, wait: float = 0.2) -> None:
        """Asserts that no frame (but presence) arrives within `wait` seconds."""
        assert not self.held, f"unexpected frame {self.held[0]!r}"
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await self._read(left)
            except TimeoutError:
                return
            if message is not None:
                raise AssertionError(f"unexpected frame {message!r}")

    async def closed(self, timeout: float = TIMEOUT) -> tuple[int | None, str | None]:
        """Waits for the server to close; returns (code, reason)."""
        while await asyncio.wait_for(self.connection.read_message(), timeout) is not None:
            pass
        self.connection.close()  # Tornado's client wants this even after the server closed
        return self.connection.close_code, self.connection.close_reason

    def close(self) -> None:
        self.connection.close()


class Clients:
    def __init__(self, base_url: str, http: AsyncHTTPClient) -> None:
        self.base_url = base_url
        self.ws_url = "ws" + base_url.removeprefix("http")
        self.http = http
        self.sockets: list[CounterSocket] = []

    def close_all(self) -> None:
        """Closes every socket the test opened, even after a failure."""
        for socket in self.sockets:
            socket.close()

    async def fetch(self, path: str, **kwargs: Any) -> HTTPResponse:
        kwargs.setdefault("raise_error", False)
        return await self.http.fetch(self.base_url + path, **kwargs)

    async def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        accept: str = "application/graphql-response+json",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Reply:
        body: dict[str, Any] = {"query": query, **extra}
        if variables is not None:
            body["variables"] = variables
        response = await self.fetch(
            "/graphql",
            method="POST",
            body=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Accept": accept, **(headers or {})},
        )
        return Reply(response.code, dict(response.headers), orjson.loads(response.body))

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> Any:
        """Runs an operation that must succeed; returns its data."""
        headers = {"Authorization": f"Bearer {token}"} if token else None
        reply = await self.graphql(query, variables, headers=headers)
        assert reply.status == 200, reply.body
        assert "errors" not in reply.body, reply.body
        return reply.body["data"]

    async def counter_socket(
        self, name: str, snapshot: bool = True, token: str | None = None
    ) -> CounterSocket:
        """Opens /ws/counter/{name}; by default reads the snapshot first."""
        url = f"{self.ws_url}/ws/counter/{quote(name)}"
        if token is not None:
            url += f"?token={quote(token)}"
        connection = await websocket_connect(url)
        socket = CounterSocket(connection)
        self.sockets.append(socket)
        if snapshot:
            first = await socket.receive()
            assert first["type"] == "snapshot", first
        return socket


class GraphQLSocket(CounterSocket):
    """A raw graphql-transport-ws client: frames in, frames out."""

    async def init(self, payload: Any = None) -> Any:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await self.send(message)
        ack = await self.receive()
        assert ack["type"] == "connection_ack", ack
        return ack

    async def subscribe(
        self, op_id: str, query: str, variables: dict[str, Any] | None = None, **extra: Any
    ) -> None:
        payload: dict[str, Any] = {"query": query, **extra}
        if variables is not None:
            payload["variables"] = variables
        await self.send({"id": op_id, "type": "subscribe", "payload": payload})

    async def next_payload(self, op_id: str, timeout: float = TIMEOUT) -> Any:
        message = await self.receive(timeout)
        assert message.get("id") == op_id, message
        assert message["type"] == "next", message
        return message["payload"]


async def open_graphql_socket(
    clients: Clients,
    subprotocols: list[str] | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> GraphQLSocket:
    from tornado.httpclient import HTTPRequest

    request = HTTPRequest(f"{clients.ws_url}/graphql{query}", headers=headers or {})
    connection = await websocket_connect(
        request,
        subprotocols=["graphql-transport-ws"] if subprotocols is None else subprotocols,
    )
    socket = GraphQLSocket(connection)
    clients.sockets.append(socket)
    return socket


async def sign_up(clients: Clients, username: str, password: str = "correct horse") -> str:
    """Signs a new user up over HTTP; returns their bearer token."""
    data = await clients.data(
        "mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { token } }",
        {"u": username, "p": password},
    )
    return data["signUp"]["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
