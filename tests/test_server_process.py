"""`python server.py` as a newcomer runs it: a real process on a real port."""

from __future__ import annotations

import subprocess
import sys

from app.config import PROJECT_ROOT
from tests.processes import free_port, post_graphql, start_server, stop, wait_healthy


def test_the_server_starts_on_the_embedded_default_and_keeps_data(tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = start_server(tmp_path, port)
    try:
        wait_healthy(base_url, process)
        reply = post_graphql(
            base_url, 'mutation { incrementCounter(name: "kept", amount: 7) { value } }'
        )
        assert reply == {"data": {"incrementCounter": {"value": 7}}}
    finally:
        output = stop(process)
    assert f"serving on http://127.0.0.1:{port}/" in output
    assert str(tmp_path / "app.db") in output  # it says where its data lives

    process = start_server(tmp_path, port)
    try:
        wait_healthy(base_url, process)
        reply = post_graphql(base_url, '{ counter(name: "kept") { value } }')
        assert reply == {"data": {"counter": {"value": 7}}}
    finally:
        stop(process)


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
