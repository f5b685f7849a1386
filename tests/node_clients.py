"""Running the Node clients of tests/node/ against the test server."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).with_name("node")


async def run_node(script: str, *args: str) -> Any:
    """Runs tests/node/<script> with `args`; returns its JSON output."""
    node = shutil.which("node")
    assert node, "Node.js is needed; the README's test command installs it"
    assert (NODE_DIR / "node_modules").is_dir(), (
        "run the README's test command: it installs tests/node's npm packages"
    )
    process = await asyncio.create_subprocess_exec(
        node,
        str(NODE_DIR / script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return json.loads(stdout)
