"""A GraphQL over SSE client of the tests' own, on a plain socket: it sends
one HTTP/1.1 request and reads the response's event stream as it comes,
so a test can read events one at a time and hang up when it likes (which
Tornado's HTTP client cannot)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

TIMEOUT = 5.0


@dataclass
class Event:
    kind: str
    data: Any
    id: str | None


class EventStreamResponse:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        status: int,
        headers: dict[str, str],
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.status = status
        self.headers = headers
        self.buffer = b""
        #: Comment lines (keep-alives) read so far, and when each was read
        #: (time.monotonic()).
        self.comments = 0
        self.comment_times: list[float] = []
        self.finished = False

    async def _chunk(self) -> bytes:
        """The next chunk of the (chunked) body; b"" at its end."""
        size_line = await self.reader.readline()
        if not size_line:
            return b""
        size = int(size_line.strip().split(b";")[0], 16)
        if size == 0:
            await self.reader.readline()
            return b""
        data = await self.reader.readexactly(size)
        await self.reader.readexactly(2)
        return data

    async def event(self, timeout: float = TIMEOUT) -> Event:
        """The next event, passing over comments; fails if the stream ends."""
        found = await asyncio.wait_for(self._event(), timeout)
        assert found is not None, "the event stream ended"
        return found

    async def _event(self) -> Event | None:
        while True:
            block, separator, rest = self.buffer.partition(b"\n\n")
            if separator:
                self.buffer = rest
                found = self._parse(block)
                if found is not None:
                    return found
                continue
            if self.finished:
                return None
            chunk = await self._chunk()
            if not chunk:
                self.finished = True
            self.buffer += chunk

    def _parse(self, block: bytes) -> Event | None:
        fields: dict[str, str] = {}
        for line in block.decode().split("\n"):
            if line.startswith(":"):
                self.comments += 1
                self.comment_times.append(time.monotonic())
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if "event" not in fields:
            return None
        data = fields.get("data", "")
        return Event(fields["event"], orjson.loads(data) if data else None, fields.get("id"))

    async def ended(self, timeout: float = TIMEOUT) -> list[Event]:
        """Reads to the end of the response; returns the events left."""
        left = []
        while (found := await asyncio.wait_for(self._event(), timeout)) is not None:
            left.append(found)
        self.close()
        return left

    async def nothing_more(self, wait: float = 0.3) -> None:
        """Asserts that no event arrives within `wait` seconds."""
        try:
            found = await asyncio.wait_for(self._event(), wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected {found!r}")

    def close(self) -> None:
        """Hangs up, as a client does to stop a subscription."""
        self.writer.close()


async def open_event_stream(
    base_url: str,
    method: str = "GET",
    target: str = "/graphql",
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> EventStreamResponse:
    """Sends one request with `Accept: text/event-stream` (unless `headers`
    say otherwise) and reads the response head."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    raw_body = orjson.dumps(body) if body is not None and not isinstance(body, bytes) else body
    lines = [f"{method} {target} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
    sent = {"Accept": "text/event-stream", **(headers or {})}
    if raw_body is not None:
        sent.setdefault("Content-Type", "application/json")
        sent["Content-Length"] = str(len(raw_body))
    lines += [f"{name}: {value}" for name, value in sent.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (raw_body or b""))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    status_line, *header_lines = head.decode().split("\r\n")
    response_headers = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            response_headers[name.strip().lower()] = value.strip()
    return EventStreamResponse(reader, writer, int(status_line.split()[1]), response_headers)
