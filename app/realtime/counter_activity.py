"""Every counter's changes on one topic, for lists of counters.

A page that lists counters wants to hear of any change, to a counter it
shows or one made a moment ago in another tab, without a subscription per
counter. `CounterActivityRegistry` is the registry that, after delivering
a counter's change on the counter's own topic, hands the same change to
the listeners of `ALL_COUNTERS`. It does so in every process, because in
each one every change passes through the registry's publishing (directly,
or after Redis), so nothing else needs to know.

On that topic a change travels wrapped in `CounterActivity`, which has no
stream position: offsets count per counter, so the changes of many
counters have no one order to resume from. Listeners that come back load
their list again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.events import CounterChanged, Topic
from app.realtime.registry import Registry

ALL_COUNTERS: Topic = ("counters",)


@dataclass(frozen=True, slots=True)
class CounterActivity:
    """A change to some counter, as heard by listeners of every counter."""

    change: CounterChanged

    @property
    def topic(self) -> Topic:
        return ALL_COUNTERS


class CounterActivityRegistry(Registry):
    def routes(self, topic: Topic, event: object) -> Sequence[tuple[Topic, object]]:
        # Only while someone listens: otherwise it costs a type check.
        if isinstance(event, CounterChanged) and self.listened(ALL_COUNTERS):
            return ((topic, event), (ALL_COUNTERS, CounterActivity(event)))
        return ((topic, event),)
