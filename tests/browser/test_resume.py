"""A page whose socket drops resumes its subscriptions: what changed while
it was away shows, in order and once, without fetching the page's state
again, unless the server can no longer replay it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, Request, expect

from tests.browser.conftest import sign_up
from tests.processes import ServerProcess, post_graphql

# Keeps the page's sockets in window.__sockets; while window.__offline is
# true, each new one fails at once, as with the network gone.
OFFLINE_SWITCH = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__offline = false;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      window.__sockets.push(this);
      if (window.__offline) this.close();
    }
  };
})();
"""
BACK_WITHIN = 10_000  # ms: the second retry comes 1.5 to 2.5 s after the first
CREATE_STORY = "mutation($u: String!, $t: String!) { createStory(url: $u, title: $t) { id } }"


def open_page(context: BrowserContext, url: str) -> Page:
    """Opens `url` and waits until its socket is connected."""
    page = context.new_page()
    page.add_init_script(OFFLINE_SWITCH)
    page.goto(url)
    expect(page.get_by_role("status")).to_contain_text("Connected")
    return page


def is_graphql_post(request: Request) -> bool:
    return request.method == "POST" and request.url.endswith("/graphql")


def go_offline(page: Page) -> list[Request]:
    """Cuts the page's socket; returns the GraphQL POSTs it makes from now on."""
    posts: list[Request] = []
    page.on("request", lambda request: is_graphql_post(request) and posts.append(request))
    page.evaluate("window.__offline = true; window.__sockets.at(-1).close()")
    expect(page.get_by_role("status")).to_contain_text("Reconnecting")
    return posts


def come_back(page: Page) -> None:
    page.evaluate("window.__offline = false")
    expect(page.get_by_role("status")).to_contain_text("Connected", timeout=BACK_WITHIN)


def change(server: ServerProcess, operation: str) -> None:
    post_graphql(server.url, f"mutation {{ {operation} {{ value }} }}")


def test_a_counter_page_shows_what_changed_while_offline_in_order_without_refetching(
    server, context
):
    page = open_page(context, f"{server.url}/counters/resumed")
    change(server, 'incrementCounter(name: "resumed")')
    expect(page.get_by_label("Counter value")).to_have_text("1")

    posts = go_offline(page)
    change(server, 'incrementCounter(name: "resumed", amount: 2)')
    change(server, 'decrementCounter(name: "resumed")')
    change(server, 'setCounterValue(name: "resumed", value: 10)')
    change(server, 'incrementCounter(name: "resumed")')
    page.wait_for_function("() => window.__sockets.length > 2")  # a retry failed too
    expect(page.get_by_label("Counter value")).to_have_text("1")
    come_back(page)

    expect(page.get_by_label("Counter value")).to_have_text("11")
    changes = page.locator("[data-history] li .change")
    expect(changes).to_have_text(["10 → 11", "2 → 10", "3 → 2", "1 → 3", "0 → 1"])
    # What was missed is told in one toast, not four.
    expect(page.locator(".toast").last).to_contain_text("4 changes, the last: 10 → 11")
    # Live again, and still each change once.
    change(server, 'incrementCounter(name: "resumed")')
    expect(changes).to_have_text(["11 → 12", "10 → 11", "2 → 10", "3 → 2", "1 → 3", "0 → 1"])
    assert posts == []


def test_a_library_page_shows_the_stories_created_while_offline(server, context):
    page = context.new_page()
    page.add_init_script(OFFLINE_SWITCH)
    sign_up(page, server.url, "resumer")
    expect(page.get_by_role("status")).to_contain_text("Connected")
    expect(page.get_by_text("0 stories")).to_be_visible()

    posts = go_offline(page)
    # Over the API with the page's own session (not through the page).
    for number in range(1, 11):
        url, title = f"https://example.com/away/{number}", f"Away {number}"
        body = {"query": CREATE_STORY, "variables": {"u": url, "t": title}}
        assert "errors" not in context.request.post(f"{server.url}/graphql", data=body).json()
    come_back(page)

    expect(page.get_by_text("10 stories")).to_be_visible()
    expect(page.locator(".story")).to_have_count(10)
    expect(page.get_by_text("Away 7", exact=True)).to_be_visible()
    # The 20 events replayed are applied as they come: no fetch at all.
    assert posts == []


def test_a_library_page_starts_from_what_it_rendered_without_fetching_it_again(server, context):
    first = context.new_page()
    sign_up(first, server.url, "rendered_once")
    for number in range(1, 4):  # a stream that has moved on before the page loads
        body = {
            "query": CREATE_STORY,
            "variables": {"u": f"https://example.com/r/{number}", "t": f"Before {number}"},
        }
        assert "errors" not in context.request.post(f"{server.url}/graphql", data=body).json()
    first.close()

    page = context.new_page()
    posts: list[Request] = []
    page.on("request", lambda request: is_graphql_post(request) and posts.append(request))
    page.goto(f"{server.url}/library")
    root = page.locator("[data-library]")
    expect(root).to_have_attribute("data-offset", re.compile(r"^[1-9][0-9]*$"))
    expect(root).to_have_attribute("data-epoch", re.compile(r"."))
    expect(page.get_by_role("status")).to_contain_text("Connected")
    expect(page.locator(".story")).to_have_count(3)

    body = {"query": CREATE_STORY, "variables": {"u": "https://example.com/r/after", "t": "After"}}
    assert "errors" not in context.request.post(f"{server.url}/graphql", data=body).json()
    expect(page.get_by_role("link", name="After")).to_be_visible()
    expect(page.get_by_text("4 stories")).to_be_visible()
    expect(page.locator(".story")).to_have_count(4)
    assert posts == []


def test_a_counter_page_starts_from_what_it_rendered_without_fetching_it_again(server, context):
    for _ in range(3):  # a counter that has moved on before the page loads
        change(server, 'incrementCounter(name: "rendered", amount: 2)')
    page = context.new_page()
    posts: list[Request] = []
    page.on("request", lambda request: is_graphql_post(request) and posts.append(request))
    page.goto(f"{server.url}/counters/rendered")
    root = page.locator("[data-counter]")
    expect(root).to_have_attribute("data-offset", "3")
    expect(root).to_have_attribute("data-epoch", re.compile(r"."))
    expect(page.get_by_role("status")).to_contain_text("Connected")
    expect(page.locator("[data-chart=value]")).to_have_attribute("data-points", "3")

    change(server, 'incrementCounter(name: "rendered")')
    expect(page.get_by_label("Counter value")).to_have_text("7")
    expect(page.locator("[data-history] li .change").first).to_have_text("6 → 7")
    expect(page.locator("[data-chart=value]")).to_have_attribute("data-points", "4")
    assert posts == []


@pytest.fixture
def forgetful(tmp_path) -> Iterator[ServerProcess]:
    """Keeps one event per stream (and up to 64 more until the next trim)."""
    with ServerProcess(tmp_path, {"HISTORY_SIZE": "1"}) as running:
        yield running


def test_a_page_away_longer_than_the_history_fetches_its_state_again(forgetful, context):
    page = open_page(context, f"{forgetful.url}/counters/forgotten")
    posts = go_offline(page)
    for _ in range(70):  # past the next trim: the page's position is gone
        change(forgetful, 'incrementCounter(name: "forgotten")')
    come_back(page)

    expect(page.get_by_label("Counter value")).to_have_text("70")
    expect(page.locator("[data-history] li")).to_have_count(20)
    expect(page.locator("[data-history] li .change").first).to_have_text("69 → 70")
    assert len(posts) == 1
    change(forgetful, 'incrementCounter(name: "forgotten")')
    expect(page.locator("[data-history] li .change").first).to_have_text("70 → 71")


def test_a_library_page_away_longer_than_the_history_fetches_once_and_keeps_a_draft(
    forgetful, context
):
    page = context.new_page()
    page.add_init_script(OFFLINE_SWITCH)
    sign_up(page, forgetful.url, "long_away")
    expect(page.get_by_role("status")).to_contain_text("Connected")
    body = {"query": CREATE_STORY, "variables": {"u": "https://example.com/kept", "t": "Kept"}}
    story_id = context.request.post(f"{forgetful.url}/graphql", data=body).json()["data"]
    story_id = story_id["createStory"]["id"]
    page.get_by_role("button", name="Edit Kept").click()
    page.locator(".story form.edit input[name=title]").fill("Kept, my draft")

    posts = go_offline(page)
    rename = 'mutation($id: ID!) { updateStory(id: $id, title: "Kept, theirs") { id } }'
    body = {"query": rename, "variables": {"id": story_id}}
    assert "errors" not in context.request.post(f"{forgetful.url}/graphql", data=body).json()
    for number in range(1, 36):  # 70 events: past the next trim, the page's position is gone
        url, title = f"https://example.com/gone/{number}", f"Gone {number}"
        body = {"query": CREATE_STORY, "variables": {"u": url, "t": title}}
        assert "errors" not in context.request.post(f"{forgetful.url}/graphql", data=body).json()
    come_back(page)

    expect(page.get_by_text("36 stories")).to_be_visible()
    expect(page.get_by_role("link", name="Gone 35")).to_be_visible()
    expect(page.locator(".story")).to_have_count(36)
    expect(page.locator(".story form.edit input[name=title]")).to_have_value("Kept, my draft")
    expect(page.locator(".edit-note")).to_contain_text("Changed in another tab")
    expect(page.locator(".edit-note")).to_contain_text("Kept, theirs")
    assert len(posts) == 1
