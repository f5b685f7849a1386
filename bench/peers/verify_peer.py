"""Smoke check of the Strawberry peer: subscription, mutations, query and a 200-subscriber fan-out.

Run with the peer's venv: `.venv/bin/python verify_peer.py` starts strawberry_app.py on a free
port with a temporary database, checks it, and stops it; `--port N` checks a peer already running.
Every connection goes to 127.0.0.1 only, and every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

HERE = Path(__file__).resolve().parent
TIMEOUT = 10.0

SUBSCRIPTION = (
    'subscription { counter(name:"x") { type value previousValue timestamp '
    "metadata { name value operationCount } } }"
)
FANOUT_SUBSCRIPTION = 'subscription { counter(name:"fan") { value } }'


def post(port: int, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        result: dict[str, Any] = json.load(response)
    return result


async def post_async(port: int, query: str) -> dict[str, Any]:
    return await asyncio.to_thread(post, port, query)


async def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return message


async def open_subscription(port: int, query: str, sub_id: str = "1") -> ClientConnection:
    ws = await connect(
        f"ws://127.0.0.1:{port}/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        open_timeout=TIMEOUT,
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    ack = await receive(ws)
    assert ack["type"] == "connection_ack", ack
    await ws.send(json.dumps({"type": "subscribe", "id": sub_id, "payload": {"query": query}}))
    return ws


async def check_basic(port: int) -> None:
    ws = await open_subscription(port, SUBSCRIPTION)
    print("subscriber: connection_ack received, subscribed")
    await asyncio.sleep(0.3)  # graphql-transport-ws has no "subscribed" reply
    for _ in range(3):
        result = await post_async(port, 'mutation { incrementCounter(name:"x") { value } }')
        print("mutation ->", json.dumps(result))
    values = []
    for _ in range(3):
        message = await receive(ws)
        print("subscriber <-", json.dumps(message))
        assert message["type"] == "next", message
        assert message["id"] == "1", message
        event = message["payload"]["data"]["counter"]
        values.append(event["value"])
        assert event["previousValue"] == event["value"] - 1, event
        assert event["metadata"]["operationCount"] == event["value"], event
    assert values == [1, 2, 3], values
    await ws.send(json.dumps({"type": "complete", "id": "1"}))
    await ws.close()
    result = await post_async(port, '{ counter(name:"x") { value operationCount } }')
    print("query ->", json.dumps(result))
    assert result == {"data": {"counter": {"value": 3, "operationCount": 3}}}, result


async def check_fanout(port: int, count: int) -> None:
    sockets = await asyncio.gather(
        *(open_subscription(port, FANOUT_SUBSCRIPTION) for _ in range(count))
    )
    await asyncio.sleep(1.0)
    started = time.perf_counter()
    result = await post_async(port, 'mutation { incrementCounter(name:"fan") { value } }')
    messages = await asyncio.gather(*(receive(ws) for ws in sockets))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(ws.close() for ws in sockets))
    ok = sum(
        1 for m in messages if m["type"] == "next" and m["payload"]["data"]["counter"]["value"] == 1
    )
    print(f"fan-out: mutation -> {json.dumps(result)}")
    print(f"fan-out: {ok}/{count} subscribers got value 1 in {elapsed * 1000:.0f} ms")
    assert ok == count, messages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_healthy(port: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    print(f"GET /healthz -> {r.status}")
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


async def run(port: int, fanout: int) -> None:
    await check_basic(port)
    await check_fanout(port, fanout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, help="check a peer already running on this port")
    parser.add_argument("--fanout", type=int, default=200, help="concurrent subscribers")
    args = parser.parse_args()

    if args.port:
        wait_healthy(args.port)
        asyncio.run(run(args.port, args.fanout))
        return

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="strawberry-peer-check-") as tmp:
        env = {**os.environ, "PEER_DB": os.path.join(tmp, "peer.sqlite3")}
        server = subprocess.Popen(
            [sys.executable, str(HERE / "strawberry_app.py"), "--port", str(port)], env=env
        )
        try:
            wait_healthy(port)
            asyncio.run(run(port, args.fanout))
        finally:
            server.terminate()
            server.wait(timeout=TIMEOUT)
    print("peer OK")


if __name__ == "__main__":
    main()
