"""The counter pages in a real browser: tabs agree, API changes show."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import sign_up
from tests.processes import post_graphql


def connected(page) -> None:
    expect(page.get_by_role("status")).to_contain_text("Connected")


def test_two_tabs_on_one_counter_agree_after_clicks_in_either(server, context):
    first, second = context.new_page(), context.new_page()
    for page in (first, second):
        page.goto(f"{server.url}/counters/tabs")
        connected(page)
    first.bring_to_front()
    first.get_by_role("button", name="Increment").click()
    first.get_by_role("button", name="Increment").click()
    expect(first.get_by_label("Counter value")).to_have_text("2")
    expect(second.get_by_label("Counter value")).to_have_text("2")
    # The other tab is told; the tab that clicked is not.
    expect(second.locator(".toast").last).to_contain_text("increment 1 → 2")
    expect(first.locator(".toast")).to_have_count(0)

    second.bring_to_front()
    second.get_by_label("Amount").fill("5")
    second.get_by_role("button", name="Decrement").click()
    expect(first.get_by_label("Counter value")).to_have_text("-3")
    second.get_by_label("Amount").fill("40")
    second.get_by_role("button", name="Set", exact=True).click()
    expect(first.get_by_label("Counter value")).to_have_text("40")
    second.get_by_role("button", name="Reset", exact=True).click()
    expect(first.get_by_label("Counter value")).to_have_text("0")
    expect(first.locator("[data-history] li")).to_have_count(5)
    expect(first.locator("[data-history] li").first).to_contain_text("reset")


def test_a_change_made_over_the_api_shows_in_an_open_tab(server, context):
    page = context.new_page()
    page.goto(f"{server.url}/counters/from-api")
    connected(page)
    post_graphql(server.url, 'mutation { incrementCounter(name: "from-api", amount: 7) { value } }')
    expect(page.get_by_label("Counter value")).to_have_text("7")
    expect(page.locator("[data-history] li").first).to_contain_text("0 → 7")
    expect(page.locator(".toast").last).to_contain_text("Someone: increment 0 → 7")


def test_a_signed_in_click_records_the_user_in_the_history(server, context):
    page = context.new_page()
    sign_up(page, server.url, "clicker")
    page.goto(f"{server.url}/counters/signed")
    connected(page)
    page.get_by_role("button", name="Increment").click()
    expect(page.locator("[data-history] li").first).to_contain_text("clicker")


def test_disconnect_and_connect_toggle_the_live_connection(server, context):
    page = context.new_page()
    page.goto(f"{server.url}/counters/toggle")
    connected(page)
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("status")).to_contain_text("Disconnected")
    post_graphql(server.url, 'mutation { incrementCounter(name: "toggle", amount: 3) { value } }')
    page.get_by_role("button", name="Connect").click()
    connected(page)
    # On connecting again the page is sent what it missed.
    expect(page.get_by_label("Counter value")).to_have_text("3")


def test_the_counters_page_lists_counters_with_live_values(server, context):
    post_graphql(server.url, 'mutation { incrementCounter(name: "listed") { value } }')
    page = context.new_page()
    page.goto(f"{server.url}/counters")
    connected(page)
    expect(page.locator("[data-counters]")).to_have_attribute("data-live", "ready")
    row = page.locator('li[data-name="listed"]')
    expect(row).to_contain_text("1")
    post_graphql(server.url, 'mutation { setCounterValue(name: "listed", value: 99) { value } }')
    expect(row.locator("[data-value]")).to_have_text("99")
    page.get_by_label("Open or create a counter").fill("brand-new")
    page.get_by_role("button", name="Open").click()
    page.wait_for_url(f"{server.url}/counters/brand-new")
    expect(page.get_by_label("Counter value")).to_have_text("0")


def test_the_explorer_runs_queries_and_shows_subscription_events(server, context):
    page = context.new_page()
    page.goto(f"{server.url}/graphql")
    connected(page)
    page.get_by_label("Query").fill('subscription { counter(name: "explored") { type value } }')
    page.get_by_role("button", name="Run").click()
    result = page.locator("[data-result]")
    expect(result).to_contain_text("waiting for events")
    # graphql-ws does not acknowledge a subscription: change the counter
    # until the first event shows (a bounded number of times).
    for _ in range(20):
        post_graphql(
            server.url, 'mutation { incrementCounter(name: "explored", amount: 4) { value } }'
        )
        if '"type": "increment"' in result.inner_text():
            break
        page.wait_for_timeout(100)
    expect(result).to_contain_text('"type": "increment"')
    expect(result).to_contain_text('"value": ')
    page.get_by_role("button", name="Stop subscription").click()
    page.get_by_label("Query").fill('{ counter(name: "explored") { value } }')
    page.get_by_role("button", name="Run").click()
    expect(page.locator("[data-result]")).to_contain_text('"counter"')
    expect(page.get_by_text("Subscription", exact=False).first).to_be_visible()


def test_a_change_made_while_disconnected_shows_its_value_and_history_follows_on_connect(
    server, context
):
    page = context.new_page()
    page.goto(f"{server.url}/counters/unplugged")
    connected(page)
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("status")).not_to_contain_text("Connected")
    page.get_by_role("button", name="Increment").click()
    expect(page.get_by_label("Counter value")).to_have_text("1")
    expect(page.locator("[data-history] li")).to_have_count(0)
    page.get_by_role("button", name="Connect").click()
    connected(page)
    expect(page.locator("[data-history] li .change")).to_have_text(["0 → 1"])


def test_rows_added_live_read_like_the_rows_rendered_with_the_page(server, context):
    post_graphql(server.url, 'mutation { incrementCounter(name: "clocks") { value } }')
    context.clear_cookies()
    page = context.browser.new_page(timezone_id="Europe/Berlin", locale="de-DE")
    try:
        page.goto(f"{server.url}/counters/clocks")
        connected(page)
        post_graphql(server.url, 'mutation { incrementCounter(name: "clocks") { value } }')
        times = page.locator("[data-history] li time")
        expect(times).to_have_count(2)
        utc = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"
        for text in times.all_inner_texts():
            assert re.fullmatch(utc, text), text
        expect(page.locator("[data-updated]")).to_have_text(
            re.compile(r"^Last update \d\d:\d\d:\d\d UTC$")
        )
    finally:
        page.close()
