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

The budget travels in the request's context (`Context.budget`), so that
one middleware serves every operation: graphql-core wraps each resolver
once per middleware manager, and a manager per operation would redo that
every time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from graphql import GraphQLResolveInfo, MiddlewareManager
from graphql.pyutils import is_awaitable

from app.models.errors import InvalidInput


class OverBudget(InvalidInput):
    """The operation ran out of time; resolving stopped."""


class Budget:
    """The time one operation may still hold the loop."""

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

    def refuse(self) -> OverBudget:
        self.exceeded = True
        return OverBudget(
            f"This operation ran for more than {self.seconds * 1000:,.0f} ms and was "
            "stopped. Ask for fewer items (first:) or fewer fields."
        )

    async def waited(self, result: Awaitable[Any]) -> Any:
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


def check_budget(next_: Any, root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """graphql-core middleware: resolves a field only within the budget of
    the operation (none for a subscription's events: each is small and
    already costed with its document)."""
    budget: Budget | None = info.context.budget
    if budget is None:
        return next_(root, info, **args)
    if time.monotonic() >= budget.deadline:
        raise budget.refuse()
    result = next_(root, info, **args)
    return budget.waited(result) if is_awaitable(result) else result


#: The middleware of every operation the executor runs.
MIDDLEWARE = MiddlewareManager(check_budget)
