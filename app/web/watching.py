"""The counter page's line about who watches it: "3 watching: you, bob
and 1 more".

A few signed-in watchers are named, the viewer first, as "you"; the rest
(watchers not signed in, names past the first few, and a user's further
tabs, since `watchers` counts sockets and members count users) are one
"N more". When presence has cut the members (past PRESENCE_MEMBERS) or
nobody signed in watches, the line is the count alone.

static/js/watching.js words the same line for the live page; the two
must agree (tests/test_pages.py and tests/browser/test_watching_names.py
check each against the same phrases).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.realtime.members import Names

#: Most watchers the line names, "you" included; the others are "N more".
NAMED = 3


@dataclass(frozen=True, slots=True)
class Watching:
    """The line's parts: whether the viewer watches (`you`), the others
    named, and how many `more`."""

    count: int
    you: bool
    names: tuple[str, ...]
    more: int


def watching(count: int, members: Names, viewer: str | None) -> Watching:
    """What the line says, from a presence count and its members (None
    when cut), as the viewer sees it."""
    if not members:
        return Watching(count, False, (), 0)
    you = viewer in members
    others = [name for name in members if name != viewer]
    names = tuple(others[: NAMED - 1 if you else NAMED])
    unnamed = max(count - len(members), 0)
    return Watching(count, you, names, unnamed + len(others) - len(names))
