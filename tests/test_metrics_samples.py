"""The /status page's samples follow real traffic: sockets, messages,
fan-out time and errors, as differences of the server's own metrics."""

from __future__ import annotations

import pytest

from app.metrics_samples import MetricsSamples


@pytest.mark.gen_test
async def test_a_sample_counts_open_sockets_messages_fanout_and_errors(clients):
    samples = MetricsSamples(kept=3)
    quiet = samples.take()
    watchers = [await clients.counter_socket("sampled") for _ in range(3)]
    await clients.data('mutation { incrementCounter(name: "sampled") { value } }')
    for watcher in watchers:
        await watcher.receive_type("increment")
    await clients.graphql('{ counter(name: "not a name!") { value } }')
    busy = samples.take()

    assert busy.connections == quiet.connections + 3
    assert busy.messages_per_second > 0
    assert busy.fanout_ms is not None
    assert busy.fanout_ms > 0
    assert busy.errors_per_second > 0

    calm = samples.take()  # nothing happened since the last sample
    assert calm.messages_per_second == 0
    assert calm.fanout_ms is None
    assert calm.errors_per_second == 0
    samples.take()
    assert len(samples.since()) == 3  # the oldest has made room
    assert samples.since(0) == samples.since()
    assert samples.since(samples.since()[-1].t) == []  # what the page has already
