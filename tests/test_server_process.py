"""`python server.py` as a newcomer runs it: a real process on a real port."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

from websockets.sync.client import connect

from app.config import PROJECT_ROOT
from tests.processes import ServerProcess, post_graphql


def test_the_server_starts_on_the_embedded_default_and_keeps_data(tmp_path):
    server = ServerProcess(tmp_path).spawn()
    port, base_url = server.port, server.url
    try:
        server.wait_healthy()
        reply = post_graphql(
            base_url, 'mutation { incrementCounter(name: "kept", amount: 7) { value } }'
        )
        assert reply == {"data": {"incrementCounter": {"value": 7}}}
    finally:
        output = server.stop()
    assert f"serving on http://127.0.0.1:{port}/" in output
    assert str(tmp_path / "app.db") in output  # it says where its data lives

    server.spawn()
    try:
        server.wait_healthy()
        reply = post_graphql(base_url, '{ counter(name: "kept") { value } }')
        assert reply == {"data": {"counter": {"value": 7}}}
    finally:
        server.stop()


def test_migrate_applies_pending_migrations_and_exits(tmp_path):
    def migrate() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "server.py", "migrate"],
            cwd=PROJECT_ROOT,
            env={"DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=30,
        )

    first = migrate()
    assert first.returncode == 0, first.stderr
    assert "0001_users_and_counters" in first.stderr
    second = migrate()
    assert second.returncode == 0
    assert "none pending" in second.stderr


def test_an_unknown_command_is_refused_with_a_sentence(tmp_path):
    result = subprocess.run(
        [sys.executable, "server.py", "frobnicate"],
        cwd=PROJECT_ROOT,
        env={"DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "Unknown command 'frobnicate'" in result.stderr


def closed_by_server(connection: socket.socket, within: float) -> bool:
    """True once the server has closed `connection` (EOF or reset) within
    `within` seconds; False if it is still open then."""
    connection.settimeout(within)
    try:
        while connection.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_idle_connections_slow_headers_and_slow_bodies_are_cut_but_sockets_are_not(tmp_path):
    env = {"HTTP_IDLE_TIMEOUT": "1", "HTTP_BODY_TIMEOUT": "1"}
    server = ServerProcess(tmp_path, env).spawn()
    port = server.port
    try:
        server.wait_healthy()
        with connect(f"ws://127.0.0.1:{port}/ws/counter/patient") as websocket:
            assert json.loads(websocket.recv(timeout=5))["type"] == "snapshot"

            with socket.create_connection(("127.0.0.1", port)) as silent:
                assert closed_by_server(silent, within=15), "an idle connection was kept"

            with socket.create_connection(("127.0.0.1", port)) as slow:
                slow.sendall(b"GET /healthz HTTP/1.1\r\n")
                cut = False
                deadline = time.monotonic() + 15
                while not cut and time.monotonic() < deadline:
                    try:
                        slow.sendall(b"X")  # one more byte of a header, now and then
                    except (BrokenPipeError, ConnectionResetError):
                        break
                    cut = closed_by_server(slow, within=0.3)
                else:
                    assert cut, "slow headers held the connection"

            with socket.create_connection(("127.0.0.1", port)) as stalled:
                stalled.sendall(
                    b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n{"
                )
                assert closed_by_server(stalled, within=15), "a stalled body held the connection"

            # The socket has been idle for longer than any of those timeouts.
            websocket.send(json.dumps({"type": "increment"}))
            reply = json.loads(websocket.recv(timeout=5))
            while reply["type"] == "presence":
                reply = json.loads(websocket.recv(timeout=5))
            assert reply["type"] in {"increment", "incrementResult"}
    finally:
        server.stop()


def test_running_out_of_file_descriptors_pauses_accepting_and_logs_once(tmp_path):
    log_path = tmp_path / "server.log"
    held: list[socket.socket] = []
    with log_path.open("wb") as log:
        server = ServerProcess(tmp_path, output=log).spawn()
        port, process, base_url = server.port, server.process, server.url
        try:
            server.wait_healthy()
            resource.prlimit(process.pid, resource.RLIMIT_NOFILE, (64, 64))
            for _ in range(100):  # more than the server may have open
                held.append(socket.create_connection(("127.0.0.1", port)))
            time.sleep(3)  # out of descriptors all this while
            for connection in held:
                connection.close()
            server.wait_healthy()
            reply = post_graphql(base_url, "{ __typename }")
            assert reply == {"data": {"__typename": "Query"}}
        finally:
            for connection in held:
                connection.close()
            server.stop()
    output = log_path.read_text(errors="replace")
    assert len(output) < 10_000, f"{len(output)} bytes of log, beginning {output[:2000]}"
    # Each shortage is told once when it begins and once when it ends.
    assert 2 <= output.count("file descriptors") <= 8, output
    assert "Traceback" not in output


def test_the_server_raises_its_open_files_limit_to_the_hard_limit_and_says_so(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, 256)
    log_path = tmp_path / "server.log"
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))  # inherited by the server
    try:
        with log_path.open("wb") as log:
            server = ServerProcess(tmp_path, output=log).spawn()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        server.wait_healthy()
        limits = Path(f"/proc/{server.process.pid}/limits").read_text()
        line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
        assert line.split()[3:5] == [str(hard), str(hard)], line
    finally:
        server.stop()
    assert f"open files limit: {hard}" in log_path.read_text(errors="replace")
