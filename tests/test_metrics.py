"""GET /metrics: Prometheus text whose values move with real traffic."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.events import counter_topic
from tests.clients import bearer, open_graphql_socket, sign_up
from tests.waiting import until


async def scrape(clients, headers: dict | None = None) -> dict[tuple[str, tuple], float]:
    response = await clients.fetch("/metrics", headers=headers or {})
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.gen_test(timeout=30)
async def test_metrics_move_with_real_traffic(clients, registry):
    before = await scrape(clients)
    token = await sign_up(clients, "measured")
    plain = await clients.counter_socket("metered", token=token)
    live = await open_graphql_socket(clients, headers=bearer(token))
    await live.init()
    await live.subscribe("m", 'subscription { counter(name: "metered") { value } }')
    topic = counter_topic("metered")
    await until(lambda: len(registry.subscribers(topic)) == 2, "both sockets to listen")
    await clients.data('mutation { incrementCounter(name: "metered") { value } }')
    await plain.receive()
    await live.next_payload("m")
    during = await scrape(clients)

    assert (
        value(during, "live_open_sockets", kind="counter")
        == value(before, "live_open_sockets", kind="counter") + 1
    )
    assert (
        value(during, "live_open_sockets", kind="graphql")
        == value(before, "live_open_sockets", kind="graphql") + 1
    )
    assert (
        value(during, "live_subscriptions", kind="counter")
        == value(before, "live_subscriptions", kind="counter") + 1
    )
    assert (
        value(during, "live_subscriptions", kind="graphql")
        == value(before, "live_subscriptions", kind="graphql") + 1
    )
    assert value(during, "live_users_connected") == 1
    assert (
        value(during, "live_events_published_total", stream="counter")
        >= value(before, "live_events_published_total", stream="counter") + 1
    )
    assert (
        value(during, "live_messages_delivered_total")
        >= value(before, "live_messages_delivered_total") + 2
    )
    assert (
        value(during, "live_graphql_operations_total", type="mutation", outcome="ok")
        >= value(before, "live_graphql_operations_total", type="mutation", outcome="ok") + 2
    )  # signUp, increment
    assert (
        value(during, "live_graphql_operations_total", type="subscription", outcome="ok")
        >= value(before, "live_graphql_operations_total", type="subscription", outcome="ok") + 1
    )
    assert value(during, "live_fanout_seconds_count") > value(before, "live_fanout_seconds_count")
    assert value(during, "live_delivery_lag_seconds_count") > value(
        before, "live_delivery_lag_seconds_count"
    )
    assert (
        value(during, "live_http_request_seconds_count", handler="GraphQLHandler", method="POST")
        >= 2
    )

    plain.close()
    live.close()
    for _ in range(100):
        after = await scrape(clients)
        if value(after, "live_open_sockets", kind="graphql") == value(
            before, "live_open_sockets", kind="graphql"
        ):
            break
        await asyncio.sleep(0.02)
    assert value(after, "live_open_sockets", kind="counter") == value(
        before, "live_open_sockets", kind="counter"
    )
    assert value(after, "live_subscriptions", kind="graphql") == value(
        before, "live_subscriptions", kind="graphql"
    )
    assert value(after, "live_users_connected") == 0


@pytest.mark.gen_test
async def test_an_invented_http_method_does_not_make_a_new_series(clients):
    await clients.fetch("/graphql", method="PUT", body=b"{}")
    samples = await scrape(clients)
    methods = {
        dict(labels).get("method")
        for (name, labels) in samples
        if name.startswith("live_http_request_seconds")
    }
    assert methods <= {"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "OTHER", None}


class TestWithToken:
    @pytest.fixture
    def settings(self, settings):
        return settings.with_overrides(metrics_token="scrape-me")

    @pytest.mark.gen_test
    async def test_metrics_need_the_token_when_one_is_set(self, clients):
        refused = await clients.fetch("/metrics")
        assert refused.code == 401
        wrong = await clients.fetch("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.code == 401
        samples = await scrape(clients, {"Authorization": "Bearer scrape-me"})
        assert any(name == "live_users_connected" for name, _ in samples)


@pytest.mark.gen_test(timeout=30)
async def test_resumes_are_counted_by_outcome_with_the_events_replayed(clients):
    before = await scrape(clients)
    first = await clients.counter_socket("measured-resume", snapshot=False)
    start = await first.receive()
    first.close()
    for _ in range(3):
        await clients.data('mutation { incrementCounter(name: "measured-resume") { value } }')
    back = await clients.counter_socket("measured-resume")
    await back.send({"type": "resume", "offset": start["offset"], "epoch": start["epoch"]})
    assert [(await back.receive())["offset"] for _ in range(3)] == [1, 2, 3]
    stale = await clients.counter_socket("measured-resume")
    await stale.send({"type": "resume", "offset": 0, "epoch": "unknown"})
    assert (await stale.receive_type("reset"))["recovered"] is False
    after = await scrape(clients)
    for outcome in ("recovered", "reset"):
        assert value(after, "live_resumes_total", outcome=outcome) == (
            value(before, "live_resumes_total", outcome=outcome) + 1
        )
    assert value(after, "live_replayed_events_total") == (
        value(before, "live_replayed_events_total") + 3
    )
