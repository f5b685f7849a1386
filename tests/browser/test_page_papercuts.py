"""Small things a newcomer trips over in the built-in pages, each as a
person would meet it in a real browser."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.processes import post_graphql


def connected(page) -> None:
    expect(page.get_by_role("status")).to_contain_text("Connected")


def test_enter_in_the_amount_field_increments_by_the_amount(server, context):
    page = context.new_page()
    page.goto(f"{server.url}/counters/entered")
    connected(page)
    page.get_by_label("Amount").fill("3")
    page.get_by_label("Amount").press("Enter")
    expect(page.get_by_label("Counter value")).to_have_text("3")
    expect(page.locator("[data-history] li").first).to_contain_text("increment")


def test_an_unknown_address_shows_the_sites_404_page(server, context):
    page = context.new_page()
    response = page.goto(f"{server.url}/no/such/page")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("404: Not Found")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_text("Nothing lives at /no/such/page")).to_be_visible()
    page.get_by_role("link", name="Back to the start page").click()
    page.wait_for_url(f"{server.url}/")


def test_the_counters_page_adds_new_counters_and_reorders_by_latest_change_live(server, context):
    post_graphql(server.url, 'mutation { incrementCounter(name: "older-one") { value } }')
    post_graphql(server.url, 'mutation { incrementCounter(name: "newer-one") { value } }')
    listing, other = context.new_page(), context.new_page()
    listing.goto(f"{server.url}/counters")
    connected(listing)
    expect(listing.locator("[data-counters]")).to_have_attribute("data-live", "ready")
    rows = listing.locator("[data-list] li")
    expect(rows.first).to_have_attribute("data-name", "newer-one")

    # A counter made in another tab appears at the top.
    other.goto(f"{server.url}/counters/made-elsewhere")
    connected(other)
    other.get_by_role("button", name="Increment").click()
    expect(rows.first).to_have_attribute("data-name", "made-elsewhere")
    expect(rows.first.locator("[data-value]")).to_have_text("1")

    # A change to an older one moves it to the top, with its new value.
    post_graphql(server.url, 'mutation { setCounterValue(name: "older-one", value: 42) { value } }')
    expect(rows.first).to_have_attribute("data-name", "older-one")
    expect(rows.first.locator("[data-value]")).to_have_text("42")
    expect(rows.nth(1)).to_have_attribute("data-name", "made-elsewhere")
    expect(listing.locator('[data-list] li[data-name="older-one"]')).to_have_count(1)


def run_until_event(server, page, counter: str) -> None:
    """graphql-ws does not acknowledge a subscription: change the counter
    until the first event shows (a bounded number of times)."""
    result = page.locator("[data-result]")
    for _ in range(20):
        post_graphql(server.url, f'mutation {{ incrementCounter(name: "{counter}") {{ value }} }}')
        if '"type": "increment"' in result.inner_text():
            break
        page.wait_for_timeout(100)
    expect(result).to_contain_text('"type": "increment"')


def test_the_explorer_runs_a_subscription_that_follows_a_fragment_over_the_socket(server, context):
    page = context.new_page()
    page.goto(f"{server.url}/graphql")
    connected(page)
    page.get_by_label("Query").fill(
        "# subscription-free comment { with braces }\n"
        "fragment Shown on CounterUpdateEvent { type value }\n"
        'subscription Watch { counter(name: "after-fragment") { ...Shown } }\n'
    )
    page.get_by_role("button", name="Run").click()
    expect(page.locator("[data-result]")).to_contain_text("waiting for events")
    run_until_event(server, page, "after-fragment")
    page.get_by_role("button", name="Stop subscription").click()

    # And a query after a fragment still goes over HTTP.
    page.get_by_label("Query").fill(
        'fragment V on Counter { value }\nquery Read { counter(name: "after-fragment") { ...V } }'
    )
    page.get_by_role("button", name="Run").click()
    expect(page.locator("[data-result]")).to_contain_text('"counter"')


def test_ctrl_enter_in_the_explorer_runs_the_document(server, context):
    page = context.new_page()
    page.goto(f"{server.url}/graphql")
    connected(page)
    query = page.get_by_label("Query")
    query.fill('{ counter(name: "keyboard") { name } }')
    query.press("Control+Enter")
    expect(page.locator("[data-result]")).to_contain_text('"name": "keyboard"')
    expect(query).to_have_value('{ counter(name: "keyboard") { name } }')
    page.get_by_label("Variables (JSON)").fill("{}")
    query.fill("query($n: String!) { counter(name: $n) { name } }")
    page.get_by_label("Variables (JSON)").fill('{"n": "meta-enter"}')
    page.get_by_label("Variables (JSON)").press("Meta+Enter")
    expect(page.locator("[data-result]")).to_contain_text('"name": "meta-enter"')


def test_the_explorer_shows_what_the_schemas_comments_explain(server, context):
    page = context.new_page()
    page.goto(f"{server.url}/graphql")
    counter = page.locator("details").filter(
        has=page.locator("summary code").get_by_text("Counter", exact=True)
    )
    expect(counter).to_have_count(1)
    counter.locator("summary").click()
    expect(counter.get_by_text("anyone may read, watch and change one")).to_be_visible()
