"""Real PostgreSQL and Redis servers for tests, on free ports in temporary
folders. Under CI (CI=true) a missing server is a failure, never a skip;
the README's test command installs both."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import psycopg
import pytest

from tests.processes import free_port


def need(path: str | None, what: str) -> str:
    if path:
        return path
    message = f"{what} is not installed (the README's test command installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError  # unreachable


class Postgres:
    """A throwaway cluster. PostgreSQL refuses to run as root: when we are
    root it runs as the `postgres` user that Debian's package creates."""

    def __init__(self) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        bindir = need(binaries[-1] if binaries else None, "PostgreSQL")
        self.initdb, self.pg_ctl = f"{bindir}/initdb", f"{bindir}/pg_ctl"
        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix="test-pg-")
        os.chmod(self.folder, 0o755)
        self.data = os.path.join(self.folder, "data")
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.run(
            self.initdb,
            "-D",
            self.data,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()

    def start(self) -> None:
        """Starts the server (again, after `stop`, on the same port and data)."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(
            self.pg_ctl, "-D", self.data, "-l", f"{self.folder}/log", "-o", options, "-w", "start"
        )

    def run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, timeout=60)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with self.connect("postgres") as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def connect(self, database: str) -> psycopg.Connection:
        """A connection of the test's own (autocommit), beside the server's."""
        return psycopg.connect(self.url(database), autocommit=True)

    def stop(self) -> None:
        """Stops the server as an administrator would (`pg_ctl stop`, fast
        mode: sessions are cut, committed data kept); `start` brings it back."""
        self.run(self.pg_ctl, "-D", self.data, "-m", "fast", "-w", "stop")

    def close(self) -> None:
        """Stops the server at once and removes its data."""
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", self.data, "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


class Redis:
    def __init__(self, port: int | None = None) -> None:
        self.binary = need(shutil.which("redis-server"), "redis-server")
        self.port = port or free_port()
        self.folder = tempfile.mkdtemp(prefix="test-redis-")
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.folder,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class TinyDisk:
    """A small filesystem of the test's own (tmpfs), for tests that fill
    it up without filling the machine's disk. Mounting needs root, which
    the test runs and CI have; elsewhere the test is skipped (failed under
    CI=true, like a missing server)."""

    def __init__(self, folder: str, size: str = "32m") -> None:
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", folder],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if mounted.returncode != 0:
            need(None, f"mounting a tmpfs ({mounted.stderr.strip() or 'needs root'})")
        self.filler = os.path.join(folder, "filler")

    def fill(self) -> None:
        """Writes a file until the filesystem has no byte left."""
        with open(self.filler, "ab", buffering=0) as filler:
            for chunk in (1024 * 1024, 4096, 1):
                try:
                    while True:
                        filler.write(b"\0" * chunk)
                except OSError:
                    continue
        assert shutil.disk_usage(self.folder).free == 0

    def free(self) -> None:
        os.remove(self.filler)

    def close(self) -> None:
        # Lazy: detached even if something still has a file open there.
        subprocess.run(["umount", "--lazy", self.folder], capture_output=True, timeout=60)
