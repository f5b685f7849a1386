"""Presence members: which signed-in users a presence key counts, bounded.

Counts say how many; members say who: a counter's signed-in watchers by
username, a user's connections by device (app.realtime.devices).
Anonymous sockets are counted by `app.realtime.presence` and never appear
here. The list is bounded: once
more than `LIMIT` distinct users watch one key (in this process or in all
of them together) the key's members are "cut" (None) and only its count is
told, so a popular counter never costs per-member work on the wire or in
Redis: a cut key writes one constant marker, however many join.

Threading: everything here runs on the IOLoop thread (see app.realtime).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

#: Most distinct members a key lists by default; past it only its count
#: is told (the PRESENCE_MEMBERS setting).
LIMIT = 50

#: Who is here: usernames, sorted; None when there are more than LIMIT.
Names = tuple[str, ...] | None

Key = tuple[str, ...]

#: What a process writes to Redis for a key whose local members are cut.
CUT = "*"


class Roster:
    """This process's members per key: username → sockets of that user."""

    __slots__ = ("_members", "limit")

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._members: dict[Key, dict[str, int]] = {}

    def enter(self, key: Key, member: str) -> None:
        members = self._members.get(key)
        if members is None:
            members = self._members[key] = {}
        members[member] = members.get(member, 0) + 1

    def leave(self, key: Key, member: str) -> None:
        members = self._members.get(key)
        if members is None:
            return
        left = members.get(member, 0) - 1
        if left > 0:
            members[member] = left
            return
        members.pop(member, None)
        if not members:
            del self._members[key]

    def names(self, key: Key) -> Names:
        """This process's members of `key`, or None when past the bound."""
        members = self._members.get(key)
        if not members:
            return ()
        if len(members) > self.limit:
            return None
        return tuple(sorted(members))

    def blob(self, key: Key) -> str:
        """The members as one Redis value: "" for none, CUT past the bound."""
        members = self._members.get(key)
        if not members:
            return ""
        if len(members) > self.limit:
            return CUT
        return orjson.dumps(sorted(members)).decode()

    def __len__(self) -> int:
        return len(self._members)


def parse(blob: bytes | str) -> Names:
    """One process's members, as `Roster.blob` wrote them."""
    text = blob.decode() if isinstance(blob, bytes) else blob
    if text == CUT:
        return None
    if not text:
        return ()
    return tuple(orjson.loads(text))


def merge(parts: Iterable[Names], limit: int = LIMIT) -> Names:
    """The members of several processes together, cut past the bound."""
    union: set[str] = set()
    for part in parts:
        if part is None:
            return None
        union.update(part)
        if len(union) > limit:
            return None
    return tuple(sorted(union))


def changes(before: Names, after: Names) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Who joined and who left between two member lists; nothing is told
    while either side is cut (the count alone speaks then)."""
    if before is None or after is None:
        return (), ()
    old, new = set(before), set(after)
    return tuple(sorted(new - old)), tuple(sorted(old - new))
