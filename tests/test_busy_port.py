"""`python server.py` on a port that is taken: one line that says what to
do, and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

from app.config import PROJECT_ROOT


def test_a_busy_port_gives_one_line_with_a_free_port_to_use_and_exits_non_zero(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        environment = {**os.environ, "DATA_DIR": str(tmp_path)}
        environment.pop("PORT", None)
        finished = subprocess.run(
            [sys.executable, "server.py", f"--port={port}"],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert finished.returncode != 0
        assert "Traceback" not in finished.stderr
        lines = finished.stderr.strip().splitlines()
        assert len(lines) == 1, finished.stderr
        match = re.fullmatch(rf"port {port} is busy; use --port=(\d+)", lines[0])
        assert match, lines[0]
        suggested = int(match.group(1))
        assert suggested != port
        # The suggestion is free to use right now.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", suggested))
