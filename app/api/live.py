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
listen on. Groups are registry subscribers, and crowds in the registry's
sense (`members_now`, `deliver_part`): the registry delivers an event to
a large group a part of its members at a time, over several turns of the
loop, and the group executes the event once, on its first part. The
registry is given to `LiveQueries` as a small port, so this module does
not depend on it.

Stream positions ride in each payload's extensions, `{"stream": {"offset":
…, "epoch": …}}`, beside data exactly as the schema says. A subscriber that
comes back with the position it last saw is caught up by `catch_up`: it
holds its live events back, gets the missed ones executed for its own
selection, then the held ones, each once (app.realtime.history). A live
subscriber that asked for positions (`extensions.since`) whose next event
does not follow the last one it was sent is told, as a failed resume
would be, before that event (`gap_notice`). Data-less notices go only to
subscribers that asked for positions: standard clients misread them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from typing import Any, Protocol

import orjson
from graphql import ExecutionResult, execute_subscription_event
from graphql import Executor as GraphQLExecutor

from app import metrics
from app.api.execution import Executor, Prepared, RequestFailure, shape_result
from app.api.resolvers.base import Context
from app.events import Topic, position_of
from app.realtime.history import History, Position, count_gap, recover

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
    """One subscriber: where its group sends the payload of each event.
    Its position in the stream is kept by an `app.realtime.cursor.StreamCursor`."""

    def joined(self) -> None:
        """It has joined its group: from now on a running subscription."""

    def hold(self) -> None:
        """Starts catching up: live events wait until `release`."""

    def push(
        self,
        payload: bytes,
        shared: dict[object, object],
        offset: int | None,
        gap: Callable[[int], bytes],
    ) -> None:
        """A live event's payload (held back while the member catches up,
        dropped if already sent). Before one that does not follow the last
        sent (one between was lost: its process died between commit and
        publish, or Redis was away), a member that asked for positions is
        sent `gap(its offset)`."""

    def send_now(self, payload: bytes, offset: int | None) -> None:
        """A payload of its own (replayed, or a notice), sent at once."""

    def start_at(self, offset: int) -> None:
        """Counts everything up to `offset` as sent (the client has it)."""

    def release(self, gap: Callable[[int], bytes]) -> None:
        """Ends catching up: sends what was held, in order, each once; before
        one that does not follow the last sent, `gap(its offset)`."""

    def forget(self) -> None:
        """Ends catching up for an operation that has ended: drops what it held."""


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
        self.deliver_part(event, shared, tuple(self.members))

    def members_now(self) -> tuple[Member, ...]:
        """Registry callback: who gets an event published now."""
        return tuple(self.members)

    def deliver_part(
        self, event: object, shared: dict[object, object], members: Sequence[Member]
    ) -> None:
        """Registry callback: the event to some members. The group executes
        once per event, on its first part (kept in `shared` under the group),
        and every part sends the same payload."""
        ready = shared.get(self)
        if ready is None:
            result = execute_subscription_event(self.built.build_per_event_executor(event))
            if inspect.isawaitable(result) or self.tail is not None:
                # In turn after what is pending; every part awaits one result.
                ready = shared[self] = _Later(
                    asyncio.ensure_future(result) if inspect.isawaitable(result) else result
                )
            else:
                ready = shared[self] = _Ready(render(result, event), position_of(event))
        if isinstance(ready, _Later):
            self.tail = asyncio.ensure_future(
                self._in_turn(self.tail, ready.result, event, tuple(members))
            )
            return
        self.push(members, ready, event, shared)  # type: ignore[arg-type]

    def deliver_to(self, member: Member, event: object) -> None:
        """Sends one event to one member only (its initial state), in
        turn with the group's events."""
        result = execute_subscription_event(self.built.build_per_event_executor(event))
        if inspect.isawaitable(result) or self.tail is not None:
            self.tail = asyncio.ensure_future(self._in_turn(self.tail, result, event, (member,)))
            return
        self.fan_out(result, event, {}, (member,))

    async def _in_turn(
        self,
        previous: Awaitable[None] | None,
        result: ExecutionResult | Awaitable[ExecutionResult],
        event: object,
        members: tuple[Member, ...] | None = None,
    ) -> None:
        if previous is not None:
            await previous
        if inspect.isawaitable(result):
            result = await result
        self.fan_out(result, event, {}, members)
        if self.tail is asyncio.current_task():
            self.tail = None

    async def replay(self, event: object) -> bytes:
        """One past event's payload, for one member catching up."""
        result = execute_subscription_event(self.built.build_per_event_executor(event))
        if inspect.isawaitable(result):
            result = await result
        return render(result, event)

    def fan_out(
        self,
        result: ExecutionResult,
        event: object,
        shared: dict[object, object],
        members: tuple[Member, ...] | None = None,
    ) -> None:
        ready = _Ready(render(result, event), position_of(event))
        self.push(tuple(self.members) if members is None else members, ready, event, shared)

    def push(
        self, members: Sequence[Member], ready: _Ready, event: object, shared: dict[object, object]
    ) -> None:
        """Pushes one event's payload to `members`; the gap notice, if any
        member needs one, is built once per event."""

        def gap(at: int) -> bytes:
            if ready.notice is None:
                ready.notice = gap_notice(event, at, shared)
            return ready.notice

        payload, offset = ready.payload, ready.offset
        for member in members:
            try:
                member.push(payload, shared, offset, gap)
            except Exception:
                log.exception("dropping a subscriber of %s", self.topic)
                self.leave(member)

    def join(self, member: Member) -> None:
        if member not in self.members:
            self.members[member] = None
            metrics.subscriptions.labels("graphql").inc()
            member.joined()

    def leave(self, member: Member) -> None:
        if self.members.pop(member, False) is None:
            metrics.subscriptions.labels("graphql").dec()
        if not self.members:
            self.owner.retire(self)


class _Ready:
    """One event's payload for a group, built once for all its parts (and
    the notice for members after a hole, once one needs it)."""

    __slots__ = ("notice", "offset", "payload")

    def __init__(self, payload: bytes, offset: int | None) -> None:
        self.payload = payload
        self.offset = offset
        self.notice: bytes | None = None


class _Later:
    """An event whose result comes later (an async resolver, or one behind
    another still pending): awaited once, by every part in turn."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult | asyncio.Future[ExecutionResult]) -> None:
        self.result = result


def render(result: ExecutionResult, event: object) -> bytes:
    """The `next` payload for one event: its result, and its position."""
    shaped = shape_result(result)
    body = shaped.payload() if isinstance(shaped, RequestFailure) else shaped
    offset = position_of(event)
    if offset is not None:
        body["extensions"] = {"stream": {"offset": offset, "epoch": getattr(event, "epoch", "")}}
    return orjson.dumps(body)


def stream_notice(position: Position | None, recovered: bool | None = None) -> bytes:
    """A payload without data that only tells the client where the stream
    is (when known), and whether its resume could be served."""
    stream: dict[str, object] = position.as_json() if position is not None else {}
    if recovered is not None:
        stream["recovered"] = recovered
    return orjson.dumps({"extensions": {"stream": stream}})


def gap_notice(event: object, offset: int, shared: dict[object, object]) -> bytes:
    """Told to a member that is about to receive `event` after a hole:
    refetch, then carry on from here (the event that follows)."""
    count_gap(shared)
    position = Position(offset - 1, getattr(event, "epoch", ""))
    return stream_notice(position, recovered=False)


#: `extensions.since` for a subscriber with no position yet that wants one.
NOW = "now"


async def catch_up(
    group: SubscriptionGroup, member: Member, history: History, since: Position | str
) -> None:
    """Brings a member that holds its live events up to date, then lets it
    go live. `since` is the position it last saw, or NOW: tell it the
    current position (so that it has one to come back with)."""
    try:
        epoch = await _catch_up(group, member, history, since)
    except BaseException:
        # Completed meanwhile, or failed (the client gets an error): what it
        # held belongs to no running operation now.
        member.forget()
        raise

    def gap(offset: int) -> bytes:
        count_gap({})
        return stream_notice(Position(offset - 1, epoch), recovered=False)

    member.release(gap)


async def _catch_up(
    group: SubscriptionGroup, member: Member, history: History, since: Position | str
) -> str:
    """Sends the member its notice or its missed events; returns the epoch."""
    try:
        if isinstance(since, Position):
            recovery = await recover(history, group.topic, since)
        else:
            position = await history.position(group.topic)
            member.send_now(stream_notice(position), position.offset)
            return position.epoch
    except Exception as error:  # the history is out of reach (Redis down): refetch
        log.warning("could not read the history of %s: %s", group.topic, error)
        member.send_now(stream_notice(None, recovered=False), None)
        return ""
    position = recovery.position
    if recovery.events is None:
        # Once, with where the stream is: the client refetches from here.
        member.send_now(stream_notice(position, recovered=False), position.offset)
        return position.epoch
    member.start_at(since.offset)  # (nothing at or before it is sent again)
    for event in recovery.events:
        member.send_now(await group.replay(event), position_of(event))
    return position.epoch


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
