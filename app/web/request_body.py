"""A GraphQL request body, read as it arrives and kept only up to
`MAX_BODY_BYTES` (app.api.limits), for GraphQL over HTTP and over SSE
alike.

For handlers marked `tornado.web.stream_request_body`, so that a body over
the limit is never buffered: the rest of it is read and dropped, then the
handler refuses it with a 413 that says so (`too_large_message`).
(Answering before the body is read would make the server close a socket
with unread data, and the kernel's reset would destroy the answer on its
way; the server-wide cap, app.http_server, bounds the reading.)
"""

from __future__ import annotations

from app.api.limits import MAX_BODY_BYTES


class BoundedBody:
    """Mixed into a RequestHandler before it (its `data_received` wins)."""

    #: Bytes of the body received so far.
    body_size = 0
    #: Over the limit, as declared or as received: its parts are dropped.
    too_large = False

    def expect_body(self, content_length: str | None) -> None:
        """Called in `prepare`, before any of the body arrives."""
        self.body_parts: list[bytes] = []
        declared = content_length or "0"
        self.too_large = declared.isdigit() and int(declared) > MAX_BODY_BYTES

    def data_received(self, chunk: bytes) -> None:
        self.body_size += len(chunk)
        if self.too_large or self.body_size > MAX_BODY_BYTES:
            self.too_large = True
            self.body_parts = []
            return
        self.body_parts.append(chunk)

    def body(self) -> bytes:
        return b"".join(self.body_parts)

    def too_large_message(self) -> str:
        return (
            f"The request body has {self.body_size} bytes; "
            f"the limit is {MAX_BODY_BYTES} bytes (1 MiB)."
        )
