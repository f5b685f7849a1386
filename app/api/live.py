"""Live subscriptions, executed once per group of alike subscribers.

Executing a subscription's selection for one event costs graphql-core
about 120 µs; doing it for each of a thousand subscribers caps fan-out
near 8,000 messages a second. So subscribers that share a document,
operation, variables and viewer form one `SubscriptionGroup`: per event
the group executes once, serialises the result once, builds each `next`
message once per distinct operation id, and hands the same bytes to every
member. Each subscriber still gets exactly the fields it selected,
because its group is defined by exactly what it selected.

The subscribe resolvers (app.api.resolvers.subscriptions) still run per
subscriber, through graphql-core, so arguments and permissions are
checked as GraphQL says; they return a `TopicSource` naming the topic to
listen on. Groups are registry subscribers; the registry is given to
`LiveQueries` as a small port, so this module does not depend on it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, Protocol

import orjson
from graphql import ExecutionResult, execute_subscription_event
from graphql import Executor as GraphQLExecutor

from app import metrics
from app.api.execution import Executor, Prepared, RequestFailure, shape_result
from app.api.resolvers.base import Context
from app.events import Topic

log = logging.getLogger(__name__)


class TopicSource(AsyncIterator[object]):
    """What a subscribe resolver returns: the topic its events come from.

    It is an async iterator only so that graphql-core accepts it; the
    events themselves reach subscribers through their group. `counts` is
    the presence key the subscription counts towards while it runs (a
    counter's watchers); `initial`, if given, makes the event sent to the
    new subscriber alone right after it joins (the current presence
    total), or None when there is none yet.
    """

    def __init__(
        self,
        topic: Topic,
        counts: Topic | None = None,
        initial: Callable[[], object | None] | None = None,
    ) -> None:
        self.topic = topic
        self.counts = counts
        self.initial = initial

    def __aiter__(self) -> TopicSource:
        return self

    async def __anext__(self) -> object:
        raise StopAsyncIteration


class Member(Protocol):
    """One subscriber: where its group sends the payload of each event."""

    def push(self, payload: bytes, shared: dict[object, object]) -> None: ...


class Subscriptions(Protocol):
    """The registry, as far as live queries need it."""

    def add(self, topic: Topic, subscriber: Any) -> None: ...

    def discard(self, topic: Topic, subscriber: Any) -> None: ...


class SubscriptionGroup:
    def __init__(
        self,
        owner: LiveQueries,
        key: Hashable,
        topic: Topic,
        built: GraphQLExecutor,
    ) -> None:
        self.owner = owner
        self.key = key
        self.topic = topic
        #: graphql-core's executor for the operation, variables coerced once.
        self.built = built
        self.members: dict[Member, None] = {}  # an ordered set
        #: Set while an async resolver's result is pending, so that later
        #: events wait their turn and order is kept.
        self.tail: asyncio.Future[None] | None = None

    def deliver(self, event: object, shared: dict[object, object]) -> None:
        """Registry callback: one execution for the whole group."""
        result = execute_subscription_event(self.built.build_per_event_executor(event))
        if inspect.isawaitable(result) or self.tail is not None:
            self.tail = asyncio.ensure_future(self._in_turn(self.tail, result))
            return
        self.fan_out(result, shared)

    def deliver_to(self, member: Member, event: object) -> None:
        """Sends one event to one member only (its initial state), in
        turn with the group's events."""
        result = execute_subscription_event(self.built.build_per_event_executor(event))
        if inspect.isawaitable(result) or self.tail is not None:
            self.tail = asyncio.ensure_future(self._in_turn(self.tail, result, (member,)))
            return
        self.fan_out(result, {}, (member,))

    async def _in_turn(
        self,
        previous: Awaitable[None] | None,
        result: ExecutionResult | Awaitable[ExecutionResult],
        members: tuple[Member, ...] | None = None,
    ) -> None:
        if previous is not None:
            await previous
        if inspect.isawaitable(result):
            result = await result
        self.fan_out(result, {}, members)
        if self.tail is asyncio.current_task():
            self.tail = None

    def fan_out(
        self,
        result: ExecutionResult,
        shared: dict[object, object],
        members: tuple[Member, ...] | None = None,
    ) -> None:
        shaped = shape_result(result)
        body = shaped.payload() if isinstance(shaped, RequestFailure) else shaped
        payload = orjson.dumps(body)
        for member in tuple(self.members) if members is None else members:
            try:
                member.push(payload, shared)
            except Exception:
                log.exception("dropping a subscriber of %s", self.topic)
                self.leave(member)

    @property
    def audience(self) -> int:
        """How many subscribers one delivery reaches (for metrics)."""
        return len(self.members)

    def join(self, member: Member) -> None:
        if member not in self.members:
            self.members[member] = None
            metrics.subscriptions.labels("graphql").inc()

    def leave(self, member: Member) -> None:
        if self.members.pop(member, False) is None:
            metrics.subscriptions.labels("graphql").dec()
        if not self.members:
            self.owner.retire(self)


class LiveQueries:
    """The groups of one application, by what their members subscribed to."""

    def __init__(self, executor: Executor, subscriptions: Subscriptions) -> None:
        self.executor = executor
        self.subscriptions = subscriptions
        self.groups: dict[Hashable, SubscriptionGroup] = {}

    def join(
        self,
        topic: Topic,
        prepared: Prepared,
        variables: dict[str, Any],
        context: Context,
        built: GraphQLExecutor,
        member: Member,
    ) -> SubscriptionGroup:
        """Adds `member` to the group for what it subscribed to; `built` is
        its graphql-core executor, used if it founds a new group."""
        viewer_id = context.viewer.id if context.viewer is not None else None
        variables_key = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
        # The document object is the cached parse: its identity stands for
        # the query text (and the group keeps it alive, so ids stay unique).
        key = (topic, id(prepared.operation), variables_key, viewer_id)
        group = self.groups.get(key)
        if group is None:
            group = SubscriptionGroup(self, key, topic, built)
            self.groups[key] = group
            self.subscriptions.add(topic, group)
        group.join(member)
        return group

    def retire(self, group: SubscriptionGroup) -> None:
        if self.groups.get(group.key) is group:
            del self.groups[group.key]
            self.subscriptions.discard(group.topic, group)
