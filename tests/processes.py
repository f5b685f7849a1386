"""Starting real server processes for tests, and waiting for them.

`ServerProcess` is the one way a test runs `server.py` to talk to it
(alone, as a pair in tests/cluster.py, or under a browser); the functions
below are its parts, and `wait_healthy` also serves tests that start the
server some other way (through the Procfile).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from app.config import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{base_url} did not become healthy in {timeout} s")


def _start_server(
    data_dir: Path,
    port: int,
    env: Mapping[str, str] | None = None,
    *args: str,
    output: IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """Starts `server.py`; its log goes to `output` if given (a file: a pipe
    nobody reads would stall a chatty server), else to a pipe for `stop`."""
    environment = {**os.environ, "DATA_DIR": str(data_dir), **(env or {})}
    environment.pop("PORT", None)
    return subprocess.Popen(
        [sys.executable, "server.py", f"--port={port}", *args],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=output or subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen[bytes]) -> str:
    """Stops the process; returns everything it printed (to the pipe)."""
    if process.poll() is None:
        process.terminate()
    try:
        output, _ = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return (output or b"").decode(errors="replace")


def post_graphql(
    base_url: str, query: str, variables: dict | None = None, token: str | None = None
) -> dict:
    """POSTs one GraphQL operation to a server process; returns the body."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        base_url + "/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers=headers,
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class ServerProcess:
    """`python server.py` on a free port with a data folder of its own.

    `start()` runs it and waits until /healthz answers 200; `stop()` ends
    it and returns what it printed; `with ServerProcess(...) as server:`
    does both. It may be started again after a stop (same port, same
    data). `process` is the running `Popen`, for signals and its pid.
    """

    def __init__(
        self,
        data_dir: Path,
        env: Mapping[str, str] | None = None,
        *args: str,
        output: IO[bytes] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.env = dict(env or {})
        self.args = args
        self.output = output
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise AssertionError("the server is not started")
        return self._process

    def spawn(self) -> ServerProcess:
        """Starts the process without waiting for it to serve."""
        self._process = _start_server(
            self.data_dir, self.port, self.env, *self.args, output=self.output
        )
        return self

    def start(self, timeout: float = 15.0) -> ServerProcess:
        """Starts the process and waits until it serves."""
        self.spawn()
        try:
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout: float = 15.0) -> None:
        wait_healthy(self.url, self.process, timeout)

    def stop(self) -> str:
        """Stops the process (if started); returns what it printed."""
        if self._process is None:
            return ""
        process, self._process = self._process, None
        return _stop(process)

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        return post_graphql(self.url, query, variables, token)

    def __enter__(self) -> ServerProcess:
        return self if self._process is not None else self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
