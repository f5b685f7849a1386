"""The plain counter socket (`/ws/counter/{name}`): its messages.

See docs/contract/counter-ws.md, the contract. Parsing turns one client
frame into a command or raises `ProtocolError` with a message a person
understands; building turns events into the seed's JSON shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from app.clock import isoformat_ms
from app.events import Actor, CounterChanged, CounterPresenceChanged, CounterSnapshot
from app.ids import to_global_id
from app.models.counter import INT_MAX, INT_MIN, OPERATION_TYPES
from app.realtime.history import Position, PositionError


class ProtocolError(Exception):
    """A bad frame: the sender gets `{"type": "error", "message": ...}`."""


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Operation:
    """increment / decrement (with `amount`), setValue (`value`), reset."""

    kind: str
    number: int | None = None
    #: The client's request key (`id`): the change happens once per key.
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Which event types this socket wants; None means all of them."""

    operation_types: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class Resume:
    """Send me every event after this position, then live ones."""

    since: Position


Command = Ping | Operation | Subscribe | Resume


def _integer(message: dict[str, Any], key: str, default: int | None) -> int:
    if key not in message and default is not None:
        return default
    value = message.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        what = "missing" if key not in message else f"{value!r}, not an integer"
        raise ProtocolError(f"`{key}` must be an integer; it is {what}.")
    if not INT_MIN <= value <= INT_MAX:
        raise ProtocolError(f"`{key}` {value} is outside the 32-bit range {INT_MIN}..{INT_MAX}.")
    return value


def _key(message: dict[str, Any]) -> str | None:
    """An operation's `id`, the client's key for it (its content is the
    model's to judge: app.models.request_keys.check_request_key)."""
    key = message.get("id")
    if key is not None and not isinstance(key, str):
        raise ProtocolError(f"`id` must be a string (a UUID, say); it is {key!r:.40}.")
    return key


def _filters(message: dict[str, Any]) -> frozenset[str] | None:
    filters = message.get("filters")
    if filters is None:
        return None
    if not isinstance(filters, dict):
        raise ProtocolError("`filters` must be an object or null.")
    types = filters.get("operationTypes")
    if types is None:
        return None
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise ProtocolError("`filters.operationTypes` must be a list of strings.")
    unknown = sorted(set(types) - set(OPERATION_TYPES))
    if unknown:
        raise ProtocolError(
            f"Unknown operation type {', '.join(map(repr, unknown))} in filters; "
            f"known types are {', '.join(OPERATION_TYPES)}."
        )
    return frozenset(types)


def parse(frame: str | bytes) -> Command:
    """The command in one client frame; binary frames are refused."""
    if isinstance(frame, bytes):
        raise ProtocolError("Binary frames are not accepted; send JSON text.")
    try:
        message = orjson.loads(frame)
    except orjson.JSONDecodeError:
        raise ProtocolError("That frame is not valid JSON.") from None
    if not isinstance(message, dict):
        raise ProtocolError("A frame must be a JSON object with a string `type`.")
    kind = message.get("type")
    if kind == "ping":
        return Ping()
    if kind in ("increment", "decrement"):
        return Operation(kind, _integer(message, "amount", default=1), _key(message))
    if kind == "setValue":
        return Operation(kind, _integer(message, "value", default=None), _key(message))
    if kind == "reset":
        return Operation(kind, key=_key(message))
    if kind == "subscribe":
        return Subscribe(_filters(message))
    if kind == "resume":
        try:
            return Resume(Position.parse(message))
        except PositionError as error:
            raise ProtocolError(f"Cannot resume: {error}") from None
    if not isinstance(kind, str):
        raise ProtocolError("A frame must be a JSON object with a string `type`.")
    raise ProtocolError(
        f"Unknown message type {kind!r}; expected ping, increment, decrement, "
        "setValue, reset, subscribe or resume."
    )


# ------------------------------------------------------------- messages out


def encode(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message)


def _when(moment: datetime | None) -> str | None:
    return isoformat_ms(moment) if moment is not None else None


def metadata(counter: CounterSnapshot) -> dict[str, Any]:
    return {
        "id": counter.id,
        "name": counter.name,
        "value": counter.value,
        "createdAt": _when(counter.created_at),
        "updatedAt": _when(counter.updated_at),
        "operationCount": counter.operation_count,
    }


def _actor(actor: Actor | None) -> dict[str, Any] | None:
    if actor is None:
        return None
    return {"id": to_global_id("User", actor.id), "username": actor.username}


def event_message(event: CounterChanged) -> dict[str, Any]:
    return {
        "type": event.type,
        "value": event.value,
        "previousValue": event.previous_value,
        "metadata": metadata(event.counter),
        "timestamp": isoformat_ms(event.timestamp),
        "actor": _actor(event.actor),
        "offset": event.offset,
        "epoch": event.epoch,
    }


def snapshot_message(counter: CounterSnapshot, now: datetime, epoch: str) -> dict[str, Any]:
    return {
        "type": "snapshot",
        "value": counter.value,
        "metadata": metadata(counter),
        "timestamp": isoformat_ms(now),
        "offset": counter.operation_count,
        "epoch": epoch,
    }


def result_message(kind: str, event: CounterChanged, key: str | None = None) -> dict[str, Any]:
    message = {"type": f"{kind}Result", "result": event_message(event)}
    if key is not None:
        message["id"] = key
    return message


def reset_message(position: Position) -> dict[str, Any]:
    """A resume that cannot be served: the events after the client's
    position are no longer all in the history. The snapshot this socket
    sent stands as the state; `offset` and `epoch` are where it is."""
    return {"type": "reset", "recovered": False, **position.as_json()}


def pong_message(now: datetime) -> dict[str, Any]:
    return {"type": "pong", "timestamp": isoformat_ms(now)}


def subscribed_message(operation_types: frozenset[str] | None) -> dict[str, Any]:
    filters = None
    if operation_types is not None:
        ordered = [t for t in OPERATION_TYPES if t in operation_types]
        filters = {"operationTypes": ordered}
    return {"type": "subscribed", "filters": filters}


def error_message(text: str, key: str | None = None) -> dict[str, Any]:
    """An error; `key` is the `id` of the operation it refuses, if it had one."""
    message = {"type": "error", "message": text}
    if key is not None:
        message["id"] = key
    return message


def presence_message(notice: CounterPresenceChanged) -> dict[str, Any]:
    """How many sockets watch the counter now, across processes, and which
    signed-in users among them. Optional fields, each only when it says
    something (a room of anonymous watchers gets the frame it always got):
    `members` when somebody signed in watches (null with `truncated: true`
    past the bound), `joined` and `left` when somebody did."""
    message: dict[str, Any] = {"type": "presence", "watchers": notice.watchers}
    if notice.members is None:
        message["members"] = None
        message["truncated"] = True
    elif notice.members:
        message["members"] = list(notice.members)
    if notice.joined:
        message["joined"] = list(notice.joined)
    if notice.left:
        message["left"] = list(notice.left)
    return message
