"""A short ring of once-a-second samples of the server's own metrics, for
the /status page: open connections, messages a second, fan-out time and
errors a second, over the last few minutes.

Why a ring here rather than rates worked out in the page: a page that
opens shows the last five minutes at once instead of an empty chart
filling up; the rates and means come from one difference of the
counters per second, the same for every viewer, however many watch; and
only these few aggregate numbers leave the process (no labels, names or
users), so the page needs no METRICS_TOKEN while /metrics keeps it.

It reads the prometheus-client metrics of app.metrics through their
public `collect()`; sampling costs a few microseconds a second. Each
process samples its own metrics (behind a load balancer the page shows
the process that answered). Runs on the IOLoop's thread only.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from prometheus_client.metrics import MetricWrapperBase

from app import metrics

#: Five minutes of one-second samples.
SAMPLES_KEPT = 300
SAMPLE_EVERY_SECONDS = 1.0
#: GraphQL outcomes that count as errors: failed, and subscriptions refused.
ERROR_OUTCOMES = frozenset({"error", "refused"})


@dataclass(frozen=True, slots=True)
class Sample:
    """One second of the server, as the status page plots it."""

    #: Unix time of the sample, in seconds.
    t: float
    #: Open WebSockets of every kind, and event streams (GraphQL over SSE).
    connections: int
    #: Running live subscriptions (GraphQL and counter sockets).
    subscriptions: int
    #: Messages handed to subscribers per second since the last sample.
    messages_per_second: float
    #: Mean time to hand one event to every local subscriber, in
    #: milliseconds, over the events of the last second; None without any.
    fanout_ms: float | None
    #: Failed GraphQL operations, refused subscriptions and sockets cut
    #: off for not reading, per second since the last sample.
    errors_per_second: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _sum(metric: MetricWrapperBase, suffix: str = "", **match: frozenset[str]) -> float:
    """The sum of a metric's samples named `<name><suffix>` whose labels
    fall in `match` (label -> allowed values)."""
    total = 0.0
    for family in metric.collect():
        for sample in family.samples:
            if sample.name != family.name + suffix:
                continue
            if all(sample.labels.get(label) in allowed for label, allowed in match.items()):
                total += sample.value
    return total


@dataclass(frozen=True, slots=True)
class _Totals:
    """The cumulative counters at one moment: samples are their differences."""

    at: float
    messages: float
    fanout_sum: float
    fanout_count: float
    errors: float

    @classmethod
    def now(cls) -> _Totals:
        return cls(
            at=time.monotonic(),
            messages=_sum(metrics.messages_delivered, "_total"),
            fanout_sum=_sum(metrics.fanout_seconds, "_sum"),
            fanout_count=_sum(metrics.fanout_seconds, "_count"),
            errors=_sum(metrics.graphql_operations, "_total", outcome=ERROR_OUTCOMES)
            + _sum(metrics.slow_consumer_disconnects, "_total"),
        )


class MetricsSamples:
    """The ring: `take()` once a second, `since(t)` for the page."""

    def __init__(self, kept: int = SAMPLES_KEPT) -> None:
        self.samples: deque[Sample] = deque(maxlen=kept)
        self._last = _Totals.now()

    def take(self) -> Sample:
        totals = _Totals.now()
        last, self._last = self._last, totals
        seconds = max(totals.at - last.at, 1e-6)
        events = totals.fanout_count - last.fanout_count
        sample = Sample(
            t=round(time.time(), 3),
            connections=int(_sum(metrics.open_sockets)),
            subscriptions=int(_sum(metrics.subscriptions)),
            messages_per_second=round((totals.messages - last.messages) / seconds, 2),
            fanout_ms=(
                round((totals.fanout_sum - last.fanout_sum) / events * 1000, 3) if events else None
            ),
            errors_per_second=round((totals.errors - last.errors) / seconds, 2),
        )
        self.samples.append(sample)
        return sample

    def since(self, t: float | None = None) -> list[Sample]:
        """The samples taken after `t` (all of them without it), oldest first."""
        return [s for s in self.samples if t is None or s.t > t]
