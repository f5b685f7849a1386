"""The counter chart's time window in a real browser: picking the last
hour, the last day or every change draws that window's changes, loaded
with history(since:), and live changes keep extending it, also those
that come while a window is loading."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Route, expect

from tests.processes import ServerProcess, post_graphql

VALUES = "figure => figure.chart.plot.data[1]"


def connected(page) -> None:
    expect(page.get_by_role("status")).to_contain_text("Connected")


def changed_long_ago(server: ServerProcess, name: str, ages: dict[int, timedelta]) -> None:
    """Moves operations of a counter back in time, as if they had been made
    then: {operation number: how long ago}. Nobody can wait a day in a test,
    so the server's own database file is rewritten, as it would hold them."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with sqlite3.connect(server.data_dir / "app.db", timeout=10) as database:
        for number, age in ages.items():
            database.execute(
                'UPDATE "counter_operation" SET "timestamp" = ? WHERE "operation_number" = ? '
                'AND "counter_id" = (SELECT "id" FROM "counter" WHERE "name" = ?)',
                (str(now - age), number, name),
            )
        oldest = str(now - max(ages.values()))
        database.execute('UPDATE "counter" SET "created_at" = ? WHERE "name" = ?', (oldest, name))
    database.close()


def test_the_chart_shows_the_window_picked_and_keeps_growing_live(server, context):
    for value in (10, 20, 30):
        post_graphql(
            server.url,
            f'mutation {{ setCounterValue(name: "windowed", value: {value}) {{ value }} }}',
        )
    changed_long_ago(server, "windowed", {1: timedelta(days=2), 2: timedelta(hours=3)})
    page = context.new_page()
    page.goto(f"{server.url}/counters/windowed")
    connected(page)
    chart = page.locator('[data-chart="value"]')
    show = page.get_by_label("Show")
    expect(chart).to_have_attribute("data-points", "3")

    show.select_option(label="the last hour")
    expect(chart).to_have_attribute("data-window", "hour")
    expect(chart).to_have_attribute("data-points", "1")
    assert chart.evaluate(VALUES) == [30]

    show.select_option(label="the last day")
    expect(chart).to_have_attribute("data-window", "day")
    expect(chart).to_have_attribute("data-points", "2")
    assert chart.evaluate(VALUES) == [20, 30]

    # A change from elsewhere extends the window shown.
    post_graphql(server.url, 'mutation { incrementCounter(name: "windowed") { value } }')
    expect(chart).to_have_attribute("data-points", "3")
    assert chart.evaluate(VALUES) == [20, 30, 31]

    show.select_option(label="all changes")
    expect(chart).to_have_attribute("data-window", "all")
    expect(chart).to_have_attribute("data-points", "4")
    assert chart.evaluate(VALUES) == [10, 20, 30, 31]
    expect(chart.locator("[data-summary]")).to_have_text("latest 31 · lowest 10 · highest 31")


def test_a_window_with_no_changes_says_so_and_fills_with_live_ones(server, context):
    post_graphql(server.url, 'mutation { setCounterValue(name: "quiet", value: 4) { value } }')
    changed_long_ago(server, "quiet", {1: timedelta(hours=2)})
    page = context.new_page()
    page.goto(f"{server.url}/counters/quiet")
    connected(page)
    chart = page.locator('[data-chart="value"]')
    page.get_by_label("Show").select_option(label="the last hour")
    expect(chart).to_have_attribute("data-window", "hour")
    expect(chart.locator("[data-summary]")).to_have_text("No change in the last hour")
    post_graphql(server.url, 'mutation { incrementCounter(name: "quiet") { value } }')
    expect(chart).to_have_attribute("data-points", "1")
    assert chart.evaluate(VALUES) == [5]


def test_a_change_made_while_a_window_loads_is_drawn_once(server, context):
    for value in (1, 2):
        post_graphql(
            server.url,
            f'mutation {{ setCounterValue(name: "racing", value: {value}) {{ value }} }}',
        )
    page = context.new_page()
    page.goto(f"{server.url}/counters/racing")
    connected(page)
    chart = page.locator('[data-chart="value"]')
    # The window's answer is held back on its way to the page: the server
    # makes it first, then the change happens and reaches the page live,
    # and only then does the (older) window arrive.
    held: list[Route] = []

    def hold_windows(route: Route) -> None:
        if "since: $since" in (route.request.post_data or ""):
            held.append(route)
        else:
            route.continue_()

    page.route("**/graphql", hold_windows)
    page.get_by_label("Show").select_option(label="the last day")
    page.wait_for_function("() => document.querySelector('[data-chart=value]').ariaBusy === 'true'")
    while not held:
        page.wait_for_timeout(20)
    window = held[0].fetch()
    post_graphql(server.url, 'mutation { incrementCounter(name: "racing", amount: 5) { value } }')
    expect(page.get_by_label("Counter value")).to_have_text("7")
    held[0].fulfill(response=window)
    expect(chart).to_have_attribute("data-window", "day")
    expect(chart).to_have_attribute("data-points", "3")
    assert chart.evaluate(VALUES) == [1, 2, 7]
    page.unroute("**/graphql")
