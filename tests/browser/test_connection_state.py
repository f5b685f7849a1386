"""What a page says about its connection, honestly and at once: offline
when the network goes, a way to retry, values marked as possibly out of
date while away, and back to normal as soon as it can be."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_up
from tests.browser.test_library_pages import add_story
from tests.processes import ServerProcess

# Generous: these wait for a page to notice, not for a deadline.
NOTICED_WITHIN = 3000
# Keeps every socket the page opens in window.__sockets.
COUNT_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(url, protocols) { super(url, protocols); window.__sockets.push(this); }
  };
})();
"""


def connected(page: Page, timeout: float | None = None) -> None:
    expect(page.get_by_role("status")).to_contain_text("Connected", timeout=timeout)


def looks_fresh(page: Page) -> None:
    expect(page.locator("main.stale")).to_have_count(0)
    expect(page.get_by_text("may be out of date")).to_be_hidden()
    expect(page.get_by_role("button", name="Retry now")).to_be_hidden()


def looks_stale(page: Page) -> None:
    expect(page.locator("main.stale")).to_have_count(1)
    expect(page.get_by_text("may be out of date")).to_be_visible()
    expect(page.get_by_role("button", name="Retry now")).to_be_visible()


def test_a_page_says_offline_at_once_and_is_itself_again_when_back(server, context):
    page = context.new_page()
    sign_up(page, server.url, "offline_reader")
    connected(page)
    looks_fresh(page)

    context.set_offline(True)
    status = page.get_by_role("status")
    expect(status).to_contain_text("You're offline", timeout=NOTICED_WITHIN)
    # The library keeps changes made now (its outbox), and says so.
    expect(status).to_contain_text("changes will be sent when you're back")
    looks_stale(page)
    # A change made meanwhile waits, said in words, never "Failed to fetch".
    add_story(page, "https://example.com/offline", "Made offline")
    expect(page.get_by_text("1 change waiting to be sent")).to_be_visible()
    expect(page.locator("[data-error]")).to_have_text("")

    context.set_offline(False)
    connected(page, timeout=NOTICED_WITHIN)
    looks_fresh(page)
    expect(page.get_by_role("link", name="Made offline")).to_be_visible()
    expect(page.get_by_text("1 change waiting to be sent")).to_be_hidden()
    expect(page.locator("[data-error]")).to_have_text("")


def test_a_counter_page_says_offline_too(server, context):
    page = context.new_page()
    page.goto(f"{server.url}/counters/offline")
    connected(page)
    context.set_offline(True)
    expect(page.get_by_role("status")).to_contain_text("You're offline", timeout=NOTICED_WITHIN)
    looks_stale(page)
    context.set_offline(False)
    connected(page, timeout=NOTICED_WITHIN)
    looks_fresh(page)


@pytest.fixture
def restartable(tmp_path) -> Iterator[ServerProcess]:
    """A server on one port that the test stops and starts again."""
    with ServerProcess(tmp_path) as running:
        yield running


def test_retry_now_reconnects_at_once_after_a_restart(restartable, context):
    page = context.new_page()
    page.add_init_script(COUNT_SOCKETS)
    page.goto(f"{restartable.url}/counters/restarted")
    connected(page)
    restartable.stop()
    expect(page.get_by_role("status")).to_contain_text("Reconnecting")
    looks_stale(page)
    # Let a few tries fail, so that the next is a while off.
    page.wait_for_function("() => window.__sockets.length >= 4", timeout=20_000)
    restartable.start()
    page.get_by_role("button", name="Retry now").click()
    connected(page, timeout=NOTICED_WITHIN)
    looks_fresh(page)


def test_while_visible_a_page_waits_at_most_5_s_between_tries(restartable, context):
    page = context.new_page()
    page.add_init_script(COUNT_SOCKETS)
    page.goto(f"{restartable.url}/counters/patient")
    connected(page)
    # The longest wait the status ever announces, however often it ticks.
    page.evaluate(
        """() => {
          window.__longest = 0;
          const label = document.querySelector("[data-state-label]");
          new MutationObserver(() => {
            const seconds = Number(/next try in (\\d+) s/.exec(label.textContent)?.[1] ?? 0);
            window.__longest = Math.max(window.__longest, seconds);
          }).observe(label, { childList: true, characterData: true, subtree: true });
        }"""
    )
    restartable.stop()
    # 1 + 2 + 4 s of waiting, then the fourth failed try sets the next wait.
    page.wait_for_function("() => window.__sockets.length >= 5", timeout=30_000)
    page.wait_for_function("() => window.__longest > 0")
    assert page.evaluate("window.__longest") <= 5
    restartable.start()
    connected(page, timeout=10_000)
