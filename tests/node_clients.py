"""Running the Node clients of tests/node/ against the test server."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).with_name("node")


def _node_command(script: str, args: tuple[str, ...]) -> list[str]:
    """node, tests/node/<script> and `args`, once Node and its packages are there."""
    node = shutil.which("node")
    assert node, "Node.js is needed; the README's test command installs it"
    assert (NODE_DIR / "node_modules").is_dir(), (
        "run the README's test command: it installs tests/node's npm packages"
    )
    return [node, str(NODE_DIR / script), *args]


async def run_node(script: str, *args: str) -> Any:
    """Runs tests/node/<script> with `args`; returns its JSON output."""
    process = await asyncio.create_subprocess_exec(
        *_node_command(script, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return json.loads(stdout)


class NodeProcess:
    """A Node client running alongside the test, one JSON line per report."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def report(self, timeout: float = 10) -> Any:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        assert line, "the Node client exited"
        return json.loads(line)

    async def close(self) -> None:
        """Closes its stdin (it then disposes of its client and exits)."""
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_node(script: str, *args: str) -> NodeProcess:
    """Starts tests/node/<script> with `args`, to talk to while it runs."""
    process = await asyncio.create_subprocess_exec(
        *_node_command(script, args),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    return NodeProcess(process)
