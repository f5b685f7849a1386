"""The counter page's outbox: changes made out of touch wait, then apply once."""

from __future__ import annotations

import json
import sqlite3

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.conftest import log_in, refuse_changes, sign_up
from tests.processes import ServerProcess

OFFLINE_NOTICED_WITHIN = 3000
# A change that got no answer while the browser is online is tried again
# within 5 s (static/js/outbox.js).
RETRIED_WITHIN = 10000
# The server waits 5 s for SQLite's write lock before answering that the
# database is locked (app/db.py).
LOCK_GIVEN_UP_WITHIN = 10000


def connected(page: Page) -> None:
    expect(page.get_by_role("status")).to_contain_text("Connected")


def stored(server: ServerProcess, name: str) -> dict:
    """The counter as the server has it: value and how many changes made it."""
    body = server.graphql(
        "query($name: String!) { counter(name: $name) { value operationCount } }", {"name": name}
    )
    return body["data"]["counter"]


def change(page: Page, button: str, amount: int | None = None) -> None:
    if amount is not None:
        page.get_by_label("Amount").fill(str(amount))
    page.get_by_role("button", name=button, exact=True).click()


def waiting_line(page: Page):
    return page.locator("[data-outbox]")


def pending_rows(page: Page):
    return page.locator("[data-history] li.pending")


def record_toasts(page: Page) -> None:
    """Keeps every toast's words in window.toldToasts (they fade in 3 s)."""
    page.evaluate(
        """() => {
          window.toldToasts = [];
          new MutationObserver((changes) => {
            for (const change of changes)
              for (const node of change.addedNodes) window.toldToasts.push(node.textContent);
          }).observe(document.querySelector("[data-toasts]"), { childList: true });
        }"""
    )


def open_counter(context: BrowserContext, server: ServerProcess, name: str) -> Page:
    page = context.new_page()
    page.goto(f"{server.url}/counters/{name}")
    connected(page)
    return page


def go_offline(context: BrowserContext, *pages: Page) -> None:
    context.set_offline(True)
    for page in pages:
        expect(page.get_by_role("status")).to_contain_text(
            "You're offline", timeout=OFFLINE_NOTICED_WITHIN
        )


def test_changes_made_offline_are_shown_waiting_then_applied_once_when_back(server, context):
    page = open_counter(context, server, "outbox-offline")
    go_offline(context, page)
    expect(page.get_by_role("status")).to_contain_text("changes will be sent when you're back")
    change(page, "Increment", 1)
    change(page, "Increment", 5)
    change(page, "Decrement", 2)
    expect(waiting_line(page)).to_have_text("3 changes waiting to be sent")
    expect(pending_rows(page).locator(".change")).to_have_text(["\u22122", "+5", "+1"])
    expect(pending_rows(page).first).to_contain_text("waiting to be sent")
    expect(page.get_by_label("Counter value")).to_have_text("0")

    context.set_offline(False)
    connected(page)
    expect(page.get_by_label("Counter value")).to_have_text("4")
    expect(waiting_line(page)).to_be_hidden()
    expect(pending_rows(page)).to_have_count(0)
    expect(page.locator("[data-history] li .change")).to_have_text(["6 → 4", "1 → 6", "0 → 1"])
    assert stored(server, "outbox-offline") == {"value": 4, "operationCount": 3}


def test_waiting_changes_survive_a_reload_and_are_sent_once_the_server_answers(server, context):
    context.route("**/graphql", refuse_changes)
    page = open_counter(context, server, "outbox-reload")
    change(page, "Increment", 2)
    change(page, "Set", 10)
    expect(waiting_line(page)).to_have_text("2 changes waiting to be sent")

    page.reload()
    connected(page)
    expect(waiting_line(page)).to_have_text("2 changes waiting to be sent")
    expect(pending_rows(page).locator(".change")).to_have_text(["set to 10", "+2"])
    assert stored(server, "outbox-reload") == {"value": 0, "operationCount": 0}

    context.unroute("**/graphql", refuse_changes)
    expect(page.get_by_label("Counter value")).to_have_text("10", timeout=RETRIED_WITHIN)
    expect(waiting_line(page)).to_be_hidden()
    expect(page.locator("[data-history] li .change")).to_have_text(["2 → 10", "0 → 2"])
    assert stored(server, "outbox-reload") == {"value": 10, "operationCount": 2}


def test_a_change_whose_answer_was_lost_is_sent_again_and_applied_once(server, context):
    sent: list[dict] = []

    def apply_then_drop(route: Route) -> None:
        # The real server applies the change; the page never hears back.
        if route.request.method != "POST":
            route.continue_()
            return
        sent.append(json.loads(route.request.post_data or "{}"))
        route.fetch()
        route.abort("connectionreset")

    page = open_counter(context, server, "outbox-lost")
    record_toasts(page)
    context.route("**/graphql", apply_then_drop)
    change(page, "Increment", 3)
    expect(waiting_line(page)).to_have_text("1 change waiting to be sent")
    assert stored(server, "outbox-lost") == {"value": 3, "operationCount": 1}

    context.unroute("**/graphql", apply_then_drop)
    page.on("request", lambda r: r.method == "POST" and sent.append(json.loads(r.post_data)))
    expect(waiting_line(page)).to_be_hidden(timeout=RETRIED_WITHIN)
    expect(page.get_by_label("Counter value")).to_have_text("3")
    expect(page.locator("[data-history] li .change")).to_have_text(["0 → 3"])
    keys = [body["variables"]["key"] for body in sent]
    assert len(keys) >= 2
    assert len(set(keys)) == 1
    assert stored(server, "outbox-lost") == {"value": 3, "operationCount": 1}
    # The change was this page's own: no "Someone: increment 0 → 3" for it.
    page.wait_for_timeout(1000)
    assert page.evaluate("window.toldToasts") == []


def test_a_refused_change_shows_its_error_and_leaves_the_outbox(server, context):
    page = open_counter(context, server, "outbox-refused")
    go_offline(context, page)
    change(page, "Set", 2147483647)
    change(page, "Increment", 1)
    expect(waiting_line(page)).to_have_text("2 changes waiting to be sent")

    context.set_offline(False)
    connected(page)
    expect(page.locator("[data-error]")).to_contain_text("Not saved (increment +1)")
    expect(page.locator("[data-error]")).to_contain_text("32-bit range")
    expect(waiting_line(page)).to_be_hidden()
    expect(pending_rows(page)).to_have_count(0)
    expect(page.get_by_label("Counter value")).to_have_text("2147483647")
    # Kept in view, in every tab, until dismissed; never tried again.
    refused = page.locator("[data-history] li.refused")
    expect(refused.locator(".change")).to_have_text(["+1"])
    expect(refused.locator(".who")).to_contain_text("not saved: ")
    other_tab = open_counter(context, server, "outbox-refused")
    expect(other_tab.locator("[data-history] li.refused .change")).to_have_text(["+1"])
    page.reload()
    connected(page)
    expect(waiting_line(page)).to_be_hidden()
    page.get_by_role("button", name="Dismiss: increment +1 not saved").click()
    expect(page.locator("[data-history] li.refused")).to_have_count(0)
    expect(other_tab.locator("[data-history] li.refused")).to_have_count(0)
    assert stored(server, "outbox-refused") == {"value": 2147483647, "operationCount": 1}


# Without Web Locks both tabs send the whole outbox at once when the
# network comes back: the keys alone keep each change to one application.
WITHOUT_WEB_LOCKS = "Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined });"


@pytest.mark.parametrize("locks", [True, False], ids=["web-locks", "keys-only"])
def test_two_tabs_sharing_an_outbox_apply_each_change_once(server, context, locks):
    if not locks:
        context.add_init_script(WITHOUT_WEB_LOCKS)
    name = f"outbox-tabs-{'locks' if locks else 'keys'}"
    first = open_counter(context, server, name)
    second = open_counter(context, server, name)
    sent: list[str] = []
    for page in (first, second):
        page.on(
            "request",
            lambda r: (
                r.method == "POST" and sent.append(json.loads(r.post_data)["variables"]["key"])
            ),
        )
    go_offline(context, first, second)
    change(first, "Increment", 1)
    change(first, "Increment", 1)
    change(second, "Increment", 1)
    # Each tab shows every change waiting, its own and the other's.
    expect(first.locator("[data-outbox]")).to_have_text("3 changes waiting to be sent")
    expect(second.locator("[data-outbox]")).to_have_text("3 changes waiting to be sent")

    sent.clear()
    context.set_offline(False)
    for page in (first, second):
        connected(page)
        expect(page.get_by_label("Counter value")).to_have_text("3")
        expect(page.locator("[data-outbox]")).to_be_hidden()
        expect(page.locator("[data-history] li .change")).to_have_text(["2 → 3", "1 → 2", "0 → 1"])
    assert len(set(sent)) == 3
    if locks:
        assert len(sent) == 3
    assert stored(server, name) == {"value": 3, "operationCount": 3}


def test_a_change_the_server_could_not_write_yet_waits_and_is_applied_once(server, context):
    # Another process holds SQLite's write lock longer than the server waits
    # for it: the server answers that nothing changed and when to try again.
    page = open_counter(context, server, "outbox-locked")
    holder = sqlite3.connect(server.data_dir / "app.db", isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        change(page, "Increment", 4)
        expect(waiting_line(page)).to_have_text(
            "1 change waiting to be sent", timeout=LOCK_GIVEN_UP_WITHIN
        )
        expect(page.locator("[data-error]")).to_have_text("")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    expect(page.get_by_label("Counter value")).to_have_text("4", timeout=RETRIED_WITHIN)
    expect(waiting_line(page)).to_be_hidden()
    assert stored(server, "outbox-locked") == {"value": 4, "operationCount": 1}


def test_each_account_has_its_own_counter_outbox(server, context):
    page = context.new_page()
    sign_up(page, server.url, "counter_owner")
    page.goto(f"{server.url}/counters/outbox-accounts")
    connected(page)
    context.route("**/graphql", refuse_changes)
    change(page, "Increment", 5)
    expect(waiting_line(page)).to_have_text("1 change waiting to be sent")

    # Signed out, the same browser's visitor neither sees nor sends it.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{server.url}/")
    context.unroute("**/graphql", refuse_changes)
    page.goto(f"{server.url}/counters/outbox-accounts")
    connected(page)
    expect(waiting_line(page)).to_be_hidden()
    change(page, "Increment", 1)
    expect(page.get_by_label("Counter value")).to_have_text("1")
    assert stored(server, "outbox-accounts") == {"value": 1, "operationCount": 1}

    # Its account back: it goes, as theirs.
    log_in(page, server.url, "counter_owner")
    page.goto(f"{server.url}/counters/outbox-accounts")
    expect(page.get_by_label("Counter value")).to_have_text("6")
    expect(page.locator("[data-history] li .who").first).to_have_text("counter_owner")
    assert stored(server, "outbox-accounts") == {"value": 6, "operationCount": 2}
