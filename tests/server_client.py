"""A blocking client of one server process, for tests that hold something
(a lock, a full disk, a stopped database) while they ask it questions."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from websockets.sync.client import connect as websocket

#: Generous: an answer that takes this long is no answer.
TIMEOUT = 30.0
INCREMENT = 'mutation { incrementCounter(name: "%s") { value } }'
VALUE = '{ counter(name: "%s") { value } }'


class ServerClient:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, accept: str = "*/*") -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, headers={"Accept": accept})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def health(self) -> tuple[int, dict[str, Any]]:
        status, body = self.get("/healthz")
        return status, json.loads(body)

    def graphql(self, query: str) -> dict[str, Any]:
        """The response body, whatever the status; never a traceback."""
        request = urllib.request.Request(
            self.url + "/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            body = error.read()
        assert b"Traceback" not in body, body
        return json.loads(body)

    def increment(self, name: str) -> dict[str, Any]:
        return self.graphql(INCREMENT % name)

    def value(self, name: str) -> int:
        reply = self.graphql(VALUE % name)
        assert "errors" not in reply, reply
        return reply["data"]["counter"]["value"]

    def counter_snapshot(self, name: str) -> dict[str, Any]:
        """The first frame of a counter socket (then it is closed)."""
        with websocket(self.url.replace("http", "ws", 1) + f"/ws/counter/{name}") as socket:
            return json.loads(socket.recv(timeout=TIMEOUT))


def wait_for(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """The first truthy result of `condition`, asked every 50 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class InBackground:
    """A blocking call on a thread of its own; `result()` waits for it."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.outcome: list[Any] = []
        self.thread = threading.Thread(target=lambda: self.outcome.append(call()), daemon=True)
        self.thread.start()

    @property
    def pending(self) -> bool:
        return self.thread.is_alive()

    def result(self) -> Any:
        self.thread.join(TIMEOUT * 2)
        assert self.outcome, "the call did not finish"
        return self.outcome[0]
