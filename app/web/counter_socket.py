"""`/ws/counter/{name}`: the Tornado side of the plain counter socket.

A thin adapter: it validates the name and the credential before the
upgrade, then hands each frame to the socket's
`app.protocols.counter_session.CounterSession`, which keeps the state and
runs the commands, and writes the session's frames with
`app.realtime.writer` (the 1 MiB slow-consumer bound).
"""

from __future__ import annotations

import logging

from app.models.counter import check_name
from app.models.errors import DomainError
from app.protocols.counter_session import CounterSession
from app.realtime import writer
from app.web.base import BaseSocketHandler

log = logging.getLogger(__name__)


class CounterSocketHandler(BaseSocketHandler):
    kind = "counter"
    session: CounterSession | None = None

    async def get(self, *args: str, **kwargs: str) -> None:
        name = args[0] if args else ""
        try:
            check_name(name)
        except DomainError as error:
            self.refuse(400, str(error))
            return
        if self.authenticate():
            await super().get(*args, **kwargs)

    async def open(self, *args: str, **kwargs: str) -> None:
        self.session = session = CounterSession(args[0], self, self.services, self.credential)
        super().open()
        try:
            await session.start()
        except Exception:
            # Tornado calls on_close only for sockets whose open succeeded.
            log.exception("could not open the counter socket for %r", session.name)
            session.failed()
            self.close(1011, "Internal server error")

    async def on_message(self, message: str | bytes) -> None:
        """Tornado awaits this before reading the next frame, so one
        socket's operations run, and are answered, in order. Once the
        socket is closing nothing more is run: a change made then could
        not be answered (Tornado still hands over frames that arrive
        until the client acknowledges the close)."""
        connection = self.ws_connection
        if self.session is None or connection is None or connection.is_closing():
            return
        await self.session.receive(message)

    async def close_for_restart(self, code: int, reason: str) -> None:
        """Closes once the command in progress, if any, is answered: a
        change applied is always acknowledged, and none is applied after."""
        if self.session is not None:
            await self.session.stop()
        self.close(code, reason)

    def send_text(self, message: bytes, shared: dict[object, object] | None) -> bool:
        return writer.send_text(self, message, shared)

    def on_close(self) -> None:
        super().on_close()
        if self.session is not None:
            self.session.closed()
