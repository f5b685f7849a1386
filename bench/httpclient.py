"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for load.

Just enough to POST GraphQL and read a Content-Length body, so that the
client costs as little CPU per request as possible.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import orjson


class KeepAliveClient:
    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def request_bytes(self, query: str, variables: dict | None = None) -> bytes:
        body = orjson.dumps({"query": query, "variables": variables or {}})
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        return head + body

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Sends a prebuilt request; returns (status, body)."""
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(request)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        return status, body

    async def send_reopening(self, request: bytes) -> tuple[int, bytes]:
        """`send`, on a fresh connection once more if the server had closed
        this one while it was idle (uvicorn does after 5 s, Tornado after
        its idle timeout). Only for requests whose repetition does no harm
        to the measurement: the exactly-once counts never use it."""
        try:
            return await self.send(request)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            await self.open()
            return await self.send(request)

    async def graphql(self, query: str, variables: dict | None = None) -> dict:
        status, body = await self.send(self.request_bytes(query, variables))
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
        return orjson.loads(body)
