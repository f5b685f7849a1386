"""The live charts in a real browser: a counter's value history, and the
server's own numbers on /status, each growing as things happen."""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from urllib.request import urlopen

from playwright.sync_api import expect
from websockets.sync.client import connect

from tests.processes import post_graphql

POINTS = "figure => figure.chart.plot.data[0].length"
VALUES = "figure => figure.chart.plot.data[1]"


def connected(page) -> None:
    expect(page.get_by_role("status")).to_contain_text("Connected")


def test_the_counter_chart_grows_as_another_tab_changes_the_counter(server, context):
    for amount in (2, 3):
        post_graphql(
            server.url,
            f'mutation {{ incrementCounter(name: "charted", amount: {amount}) {{ value }} }}',
        )
    watching, clicking = context.new_page(), context.new_page()
    for page in (watching, clicking):
        page.goto(f"{server.url}/counters/charted")
        connected(page)
    chart = watching.locator('[data-chart="value"]')
    expect(chart).to_have_attribute("data-points", "2")
    assert chart.evaluate(VALUES) == [2, 5]

    clicking.bring_to_front()
    clicking.get_by_role("button", name="Increment").click()
    clicking.get_by_label("Amount").fill("10")
    clicking.get_by_role("button", name="Decrement").click()
    expect(chart).to_have_attribute("data-points", "4")
    assert chart.evaluate(POINTS) == 4
    assert chart.evaluate(VALUES) == [2, 5, 6, -4]
    # The text alternative says the same.
    plot = chart.get_by_role("img")
    expect(plot).to_have_attribute(
        "aria-label", "Value after each change, 4 points: latest -4, lowest -4, highest 6"
    )
    expect(chart.locator("[data-summary]")).to_have_text("latest -4 · lowest -4 · highest 6")


def test_a_chart_of_one_change_spans_a_minute_around_it_not_years(server, context):
    post_graphql(server.url, 'mutation { incrementCounter(name: "once-charted") { value } }')
    page = context.new_page()
    page.goto(f"{server.url}/counters/once-charted")
    connected(page)
    chart = page.locator('[data-chart="value"]')
    expect(chart).to_have_attribute("data-points", "1")
    point, low, high = chart.evaluate(
        "figure => [figure.chart.plot.data[0][0], figure.chart.plot.scales.x.min,"
        " figure.chart.plot.scales.x.max]"
    )
    assert (low, high) == (point - 30, point + 30)


def test_a_counter_never_changed_has_an_empty_chart_that_says_so(server, context):
    page = context.new_page()
    page.goto(f"{server.url}/counters/untouched")
    connected(page)
    chart = page.locator('[data-chart="value"]')
    expect(chart).to_have_attribute("data-points", "0")
    expect(chart.locator("[data-summary]")).to_have_text("No change yet")
    expect(chart.get_by_role("img")).to_have_attribute(
        "aria-label", "Value after each change: no change yet"
    )


def latest(chart) -> float | None:
    return chart.evaluate("figure => figure.chart.plot.data[1].at(-1) ?? null")


def wait_until(page, chart, condition: str) -> None:
    """Waits (bounded by the page's timeout) until some drawn sample of the
    chart meets `condition`, a JS expression in `v`."""
    page.wait_for_function(
        f"figure => figure.chart.plot.data[1].some(v => v !== null && ({condition}))",
        arg=chart.element_handle(),
        timeout=15000,
    )


def test_the_status_page_charts_move_as_sockets_open_messages_flow_and_errors_happen(
    server, context
):
    page = context.new_page()
    page.goto(f"{server.url}/status")
    connections = page.locator('[data-chart="connections"]')
    messages = page.locator('[data-chart="messages"]')
    fanout = page.locator('[data-chart="fanout"]')
    errors = page.locator('[data-chart="errors"]')
    expect(connections).not_to_have_attribute("data-points", "0")
    for chart in (connections, messages, fanout, errors):
        expect(chart.get_by_role("img")).to_have_attribute(
            "aria-label", re.compile(r", \d+ points: latest ")
        )
    # The server is shared with earlier tests, whose pages' sockets may
    # still be closing: start from a moment with none of them open.
    page.wait_for_function(
        "figure => figure.chart.plot.data[1].at(-1) === 0",
        arg=connections.element_handle(),
        timeout=15000,
    )
    before = latest(connections)
    assert before == 0
    grown = connections.evaluate(POINTS)

    ws_url = server.url.replace("http", "ws", 1) + "/ws/counter/status-load"
    with ExitStack() as stack:
        sockets = [stack.enter_context(connect(ws_url)) for _ in range(3)]
        for socket in sockets:
            assert json.loads(socket.recv(timeout=5))["type"] == "snapshot"
        wait_until(page, connections, f"v >= {before + 3}")
        for _ in range(10):
            sockets[0].send(json.dumps({"type": "increment", "amount": 1}))
        wait_until(page, messages, "v > 0")
        wait_until(page, fanout, "v > 0")
        post_graphql(server.url, '{ counter(name: "not a name!") { value } }')
        wait_until(page, errors, "v > 0")
    assert connections.evaluate(POINTS) > grown
    expect(connections.locator("[data-summary]")).to_contain_text("latest")
    label = connections.get_by_role("img").get_attribute("aria-label")
    assert label.startswith("Open connections, ")
    # Nothing but totals: the counter's name is nowhere in what the page read.
    with urlopen(f"{server.url}/status.json") as response:
        assert "status-load" not in response.read().decode()
    assert "status-load" not in page.content()
