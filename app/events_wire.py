"""Events as bytes, for carrying them between processes (Redis pub/sub).

Every event is a frozen dataclass of plain values, nested dataclasses,
tuples and datetimes; this turns one into JSON and back, by type name, so
that a process receives exactly the event another one published.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import orjson

from app import events

_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in vars(events).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls)
}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__type": type(value).__name__, **fields}
    if isinstance(value, datetime):
        return {"__datetime": value.isoformat()}
    if isinstance(value, tuple):
        return {"__tuple": [_plain(item) for item in value]}
    return value


def _rich(value: Any) -> Any:
    if isinstance(value, dict):
        if "__datetime" in value:
            return datetime.fromisoformat(value["__datetime"])
        if "__tuple" in value:
            return tuple(_rich(item) for item in value["__tuple"])
        if "__type" in value:
            cls = _TYPES[value["__type"]]
            return cls(**{k: _rich(v) for k, v in value.items() if k != "__type"})
    if isinstance(value, list):
        return [_rich(item) for item in value]
    return value


def encode(topic: events.Topic, event: object) -> bytes:
    return orjson.dumps({"topic": list(topic), "event": _plain(event)})


def decode(data: bytes) -> tuple[events.Topic, object]:
    message = orjson.loads(data)
    return tuple(message["topic"]), _rich(message["event"])
