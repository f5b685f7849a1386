"""Starting the servers under test: ours and the reference peer.

Each starts with its descriptor limit raised (bench.limits) by the bench
itself, so that runs with tens of thousands of sockets do not depend on
what the server does with its own limit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.limits import preexec_raise_limit

PROJECT = Path(__file__).resolve().parent.parent
PEER_PYTHON = PROJECT / "bench" / "peers" / ".venv" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Running:
    def __init__(
        self, name: str, command: list[str], env: dict[str, str], port: int, cwd: Path = PROJECT
    ) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}"
        self.folder = tempfile.TemporaryDirectory(prefix=f"bench-{name}-")
        env = {**os.environ, **{k: v.format(folder=self.folder.name) for k, v in env.items()}}
        env.pop("PORT", None)
        # A file, not a pipe nobody reads: a server that logs a lot (tens of
        # thousands of connections) would stall on a full pipe.
        self.log = open(Path(self.folder.name) / "server.log", "w+b")  # noqa: SIM115
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            preexec_fn=preexec_raise_limit,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.output()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not start in 30 s")

    def output(self) -> str:
        """What the server printed to stderr so far."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        import psutil

        times = psutil.Process(self.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        self.folder.cleanup()


def ours(checkout: Path = PROJECT) -> Running:
    """Our server from `checkout` (this one by default; another worktree
    gives "before" figures with the same load tool)."""
    port = free_port()
    command = [sys.executable, str(Path(checkout) / "server.py"), f"--port={port}"]
    return Running("ours", command, {"DATA_DIR": "{folder}"}, port, cwd=Path(checkout))


def peer() -> Running:
    if not PEER_PYTHON.exists():
        raise RuntimeError(
            "the reference peer is not installed: python3 -m venv bench/peers/.venv && "
            "bench/peers/.venv/bin/pip install -r bench/peers/requirements.txt"
        )
    port = free_port()
    command = [str(PEER_PYTHON), "bench/peers/strawberry_app.py", "--port", str(port)]
    return Running("strawberry", command, {"PEER_DB": "{folder}/peer.sqlite3"}, port)
