"""Prometheus metrics: what the server is doing, for `GET /metrics`.

Counted where it is cheap: once per publish or per slice of fan-out, not
once per message (a counter increment costs ~0.4 µs, which per message
would cost fan-out a few percent), and per connection or subscription at
open and close.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

open_sockets = Gauge(
    "live_open_sockets", "Open WebSocket connections, and event streams (kind sse).", ["kind"]
)
subscriptions = Gauge("live_subscriptions", "Live subscriptions.", ["kind"])
users_connected = Gauge("live_users_connected", "Users with at least one open socket.")
events_published = Counter("live_events_published_total", "Events published.", ["stream"])
messages_delivered = Counter(
    "live_messages_delivered_total", "Messages handed to subscribers (sockets or live queries)."
)
fanout_seconds = Histogram(
    "live_fanout_seconds",
    "Time one slice of fan-out held the event loop (a publish to many "
    "subscribers is delivered in several slices).",
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
commit_batch_units = Histogram(
    "live_commit_batch_units",
    "Units of work (changes, and reads that saw them) committed together in one "
    "SQLite transaction by group commit.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
delivery_lag_seconds = Histogram(
    "live_delivery_lag_seconds",
    "From a change's commit to its fan-out here (through Redis when set).",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)
slow_consumer_disconnects = Counter(
    "live_slow_consumer_disconnects_total",
    "Sockets closed with 1013, and event streams cut off, for not reading.",
)
graphql_operations = Counter(
    "live_graphql_operations_total", "GraphQL operations.", ["type", "outcome"]
)
http_request_seconds = Histogram(
    "live_http_request_seconds", "HTTP request duration.", ["handler", "method"]
)
resumes = Counter(
    "live_resumes_total",
    "Clients back with a stream position: served from history, or told to refetch.",
    ["outcome"],
)
replayed_events = Counter("live_replayed_events_total", "Missed events sent again on a resume.")
stream_gaps = Counter(
    "live_stream_gaps_total",
    "Events that arrived after a hole in their stream (their predecessor was lost): "
    "the subscribers were told to refetch.",
)
