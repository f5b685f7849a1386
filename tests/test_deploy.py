"""The Procfile, run as the platform would: `honcho start web`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from app.config import PROJECT_ROOT
from tests.processes import free_port, wait_healthy


def test_the_procfile_declares_web_and_release():
    lines = (PROJECT_ROOT / "Procfile").read_text().splitlines()
    assert "web: python server.py --port=$PORT" in lines
    assert "release: python server.py migrate" in lines


def test_honcho_start_web_serves_the_home_page(tmp_path):
    honcho = shutil.which("honcho", path=str(Path(sys.executable).parent))
    assert honcho, "honcho is in requirements-dev.txt"
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DATA_DIR": str(tmp_path),
        # The Procfile says `python`: the virtualenv's, as on the platform.
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    process = subprocess.Popen(
        [honcho, "start", "web"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
            assert b"Live counters" in response.read()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    # PORT from the platform: the server listens on every interface.
    assert f"serving on http://0.0.0.0:{port}/" in output.decode()
