"""Starting real server processes for tests, and waiting for them."""

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
from typing import IO

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


def start_server(
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


def stop(process: subprocess.Popen[bytes]) -> str:
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
