"""A time budget for executing one operation.

graphql-core runs synchronous resolvers one after another without
yielding, so an operation holds the event loop (or, on PostgreSQL, the one
database thread) until it is done. The cost limit (app.api.cost) keeps
results small, but it estimates; this is the backstop: a middleware that
every resolver passes through, which refuses to resolve anything more
once the operation has held the loop for longer than its budget. Time
spent waiting on an async resolver (a password hash in its own thread, a
Redis round trip) holds nothing, so it does not count.

The refusal is BAD_USER_INPUT rather than INTERNAL_SERVER_ERROR: nothing
broke, the operation asked for more than the server gives one request,
and the remedy, asking for less, lies with the client. What was resolved
before the budget ran out stays in `data` (a mutation's completed root
fields did happen); the fields after it are null, with one error.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable
from typing import Any

from graphql import GraphQLResolveInfo

from app.models.errors import InvalidInput


class OverBudget(InvalidInput):
    """The operation ran out of time; resolving stopped."""


class Budget:
    """graphql-core middleware for one execution."""

    __slots__ = ("_waiting", "_waiting_since", "deadline", "exceeded", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = float("inf")
        #: Set once a field was refused.
        self.exceeded = False
        self._waiting = 0
        self._waiting_since = 0.0

    def start(self) -> None:
        """Starts the clock: right before executing, so that time spent
        queueing for the database thread does not count."""
        self.deadline = time.monotonic() + self.seconds

    def resolve(self, next_: Any, root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        if time.monotonic() >= self.deadline:
            self.exceeded = True
            raise OverBudget(
                f"This operation ran for more than {self.seconds * 1000:,.0f} ms and was "
                "stopped. Ask for fewer items (first:) or fewer fields."
            )
        result = next_(root, info, **args)
        return self._waited(result) if inspect.isawaitable(result) else result

    async def _waited(self, result: Awaitable[Any]) -> Any:
        """Awaits an async resolver; while any is pending the clock stops."""
        if self._waiting == 0:
            self._waiting_since = time.monotonic()
        self._waiting += 1
        try:
            return await result
        finally:
            self._waiting -= 1
            if self._waiting == 0:
                self.deadline += time.monotonic() - self._waiting_since
