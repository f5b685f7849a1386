"""The library page's outbox: changes made out of touch wait, then apply once,
as their own user only, and a late refusal loses nothing that was written."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, Request, Route, expect

from tests.browser.conftest import log_in, refuse_changes, sign_up
from tests.browser.test_library_pages import add_story
from tests.processes import ServerProcess

OFFLINE_NOTICED_WITHIN = 3000
# A change that got no answer while the browser is online is tried again
# within 5 s (static/js/outbox.js).
RETRIED_WITHIN = 10000
PASSWORD = "correct horse"

LIBRARY = """{ library {
  stories(first: 50) { edges { node { title description tags { name } } } }
  tags(first: 50) { edges { node { name } } } } }"""


def stored(server: ServerProcess, username: str) -> dict:
    """The user's library as the server has it: story titles → (description,
    tag names), and tag names."""
    signed_in = server.graphql(
        "mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { token } }",
        {"u": username, "p": PASSWORD},
    )
    library = server.graphql(LIBRARY, token=signed_in["data"]["signIn"]["token"])["data"]["library"]
    stories = {
        edge["node"]["title"]: (
            edge["node"]["description"],
            sorted(tag["name"] for tag in edge["node"]["tags"]),
        )
        for edge in library["stories"]["edges"]
    }
    titles = [edge["node"]["title"] for edge in library["stories"]["edges"]]
    assert len(titles) == len(stories), f"a story was made twice: {titles}"
    return {"stories": stories, "tags": sorted(e["node"]["name"] for e in library["tags"]["edges"])}


def connected(page: Page) -> None:
    expect(page.get_by_role("status")).to_contain_text("Connected")


def outbox(page: Page):
    return page.get_by_role("region", name="Changes not saved yet")


def waiting_note(page: Page):
    return outbox(page).locator("> p")


def create_tag(page: Page, name: str) -> None:
    page.get_by_label("Tag name").fill(name)
    page.get_by_role("button", name="Create tag").click()


def edit_story(page: Page, title: str, new_title: str, description: str | None = None) -> None:
    page.get_by_role("button", name=f"Edit {title}").click()
    form = page.get_by_role("form", name=f"Edit {title}")
    form.get_by_label("Title").fill(new_title)
    if description is not None:
        form.get_by_label("Description").fill(description)
    form.get_by_role("button", name="Save").click()
    expect(form).to_have_count(0)


def test_changes_made_offline_wait_in_every_tab_then_apply_once_when_back(server, context):
    page = context.new_page()
    sign_up(page, server.url, "outbox_offline")
    connected(page)
    add_story(page, "https://example.com/kept", "Kept story")
    create_tag(page, "later")
    expect(page.locator(".tags .chip", has_text="later")).to_be_visible()
    other_tab = context.new_page()
    other_tab.goto(f"{server.url}/library")
    connected(other_tab)

    page.bring_to_front()
    context.set_offline(True)
    expect(page.get_by_role("status")).to_contain_text(
        "changes will be sent when you're back", timeout=OFFLINE_NOTICED_WITHIN
    )
    add_story(page, "https://example.com/offline", "Written offline", "on the train")
    create_tag(page, "fresh")
    expect(page.get_by_label("Tag name")).to_have_value("")
    edit_story(page, "Kept story", "Kept, renamed offline")
    page.get_by_label("Add a tag to Kept story").select_option(label="later")

    for tab in (page, other_tab):
        expect(waiting_note(tab)).to_have_text("4 changes waiting to be sent")
        expect(outbox(tab).locator("li.pending .what")).to_have_text(
            [
                "Add story “Written offline”",
                "Create tag “fresh”",
                "Edit story “Kept story”",
                "Tag “Kept story” with “later”",
            ]
        )
    # What was written is in view while it waits.
    expect(outbox(page).locator("li.pending").first).to_contain_text("https://example.com/offline")
    expect(outbox(page).locator("li.pending").first).to_contain_text("on the train")
    expect(page.locator(".story.waiting")).to_have_count(1)
    assert stored(server, "outbox_offline") == {
        "stories": {"Kept story": (None, [])},
        "tags": ["later"],
    }

    context.set_offline(False)
    for tab in (page, other_tab):
        connected(tab)
        expect(outbox(tab)).to_be_hidden()
        expect(tab.locator(".story-title")).to_have_text(
            ["Written offline", "Kept, renamed offline"]
        )
        expect(
            tab.get_by_role("button", name="Remove tag later from Kept, renamed offline")
        ).to_be_visible()
        expect(tab.locator(".tags .chip")).to_have_text(["fresh", "later"])
        expect(tab.get_by_text("2 stories")).to_be_visible()
    expect(page.locator(".story.waiting")).to_have_count(0)
    assert stored(server, "outbox_offline") == {
        "stories": {
            "Written offline": ("on the train", []),
            "Kept, renamed offline": (None, ["later"]),
        },
        "tags": ["fresh", "later"],
    }


def test_a_change_whose_answer_was_lost_waits_across_a_reload_and_applies_once(server, context):
    page = context.new_page()
    sign_up(page, server.url, "outbox_lost")
    connected(page)
    keys: list[str] = []

    def change_key(request: Request) -> str | None:
        """The key of a change the page sends (its queries carry none)."""
        if request.method != "POST":
            return None
        return json.loads(request.post_data or "{}").get("variables", {}).get("k")

    def apply_then_drop(route: Route) -> None:
        # The real server applies the change; the page never hears back.
        key = change_key(route.request)
        if key is None:
            route.continue_()
            return
        keys.append(key)
        route.fetch()
        route.abort("connectionreset")

    context.route("**/graphql", apply_then_drop)
    add_story(page, "https://example.com/lost", "Answer lost", "sent twice, made once")
    expect(waiting_note(page)).to_have_text("1 change waiting to be sent")
    assert stored(server, "outbox_lost")["stories"] == {
        "Answer lost": ("sent twice, made once", [])
    }

    page.reload()
    connected(page)
    expect(waiting_note(page)).to_have_text("1 change waiting to be sent")
    expect(outbox(page).locator("li.pending .what")).to_have_text(["Add story “Answer lost”"])

    context.unroute("**/graphql", apply_then_drop)
    page.on("request", lambda request: (key := change_key(request)) and keys.append(key))
    expect(outbox(page)).to_be_hidden(timeout=RETRIED_WITHIN)
    expect(page.locator(".story-title")).to_have_text(["Answer lost"])
    assert len(keys) >= 2
    assert len(set(keys)) == 1, keys
    assert stored(server, "outbox_lost")["stories"] == {
        "Answer lost": ("sent twice, made once", [])
    }


def test_a_waiting_change_refused_when_it_goes_keeps_all_that_was_written(server, context):
    page = context.new_page()
    sign_up(page, server.url, "outbox_refused")
    connected(page)
    add_story(page, "https://example.com/doomed", "Doomed")

    context.route("**/graphql", refuse_changes)
    edit_story(page, "Doomed", "My careful new title", "Three paragraphs of thought")
    expect(waiting_note(page)).to_have_text("1 change waiting to be sent")
    # Meanwhile the story is deleted elsewhere (another device).
    token = server.graphql(
        "mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { token } }",
        {"u": "outbox_refused", "p": PASSWORD},
    )["data"]["signIn"]["token"]
    [edge] = server.graphql(
        "{ library { stories(first: 1) { edges { node { id } } } } }", token=token
    )["data"]["library"]["stories"]["edges"]
    server.graphql("mutation($id: ID!) { deleteStory(id: $id) }", {"id": edge["node"]["id"]}, token)

    context.unroute("**/graphql", refuse_changes)
    refused = outbox(page).locator("li.refused")
    expect(refused).to_have_count(1, timeout=RETRIED_WITHIN)
    expect(refused.locator(".what")).to_have_text("Not saved: Edit story “Doomed”")
    expect(refused.locator(".detail")).to_have_text(
        ["My careful new title", "Three paragraphs of thought"]
    )
    expect(refused.locator(".why")).to_have_text("No such story in your library.")
    expect(waiting_note(page)).to_be_hidden()

    # It stays until the person has read it, across a reload.
    page.reload()
    connected(page)
    expect(outbox(page).locator("li.refused .detail")).to_have_text(
        ["My careful new title", "Three paragraphs of thought"]
    )
    outbox(page).get_by_role("button", name="Dismiss: Edit story “Doomed”").click()
    expect(outbox(page)).to_be_hidden()
    assert stored(server, "outbox_refused") == {"stories": {}, "tags": []}


def test_a_change_refused_at_once_is_said_at_its_form_and_not_kept(server, context):
    page = context.new_page()
    sign_up(page, server.url, "outbox_at_once")
    connected(page)
    create_tag(page, "twice")
    expect(page.locator(".tags .chip", has_text="twice")).to_be_visible()
    create_tag(page, "twice")
    expect(page.locator("[data-add-tag]")).to_contain_text("already")
    expect(page.get_by_label("Tag name")).to_have_value("twice")
    expect(outbox(page)).to_be_hidden()


def test_one_accounts_waiting_changes_are_never_sent_as_another(server, context):
    page = context.new_page()
    sign_up(page, server.url, "outbox_owner")
    connected(page)
    context.route("**/graphql", refuse_changes)
    add_story(page, "https://example.com/private", "Owner's private draft")
    expect(waiting_note(page)).to_have_text("1 change waiting to be sent")

    # Another person signs in on the same browser: they neither see nor send it.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{server.url}/")
    context.unroute("**/graphql", refuse_changes)
    sign_up(page, server.url, "outbox_guest")
    connected(page)
    expect(page.get_by_text("Owner's private draft")).to_have_count(0)
    expect(outbox(page)).to_be_hidden()
    add_story(page, "https://example.com/guest", "Guest's own")
    expect(page.locator(".story-title")).to_have_text(["Guest's own"])
    assert stored(server, "outbox_guest")["stories"] == {"Guest's own": (None, [])}
    assert stored(server, "outbox_owner")["stories"] == {}

    # The owner back: their change goes, as theirs.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{server.url}/")
    log_in(page, server.url, "outbox_owner", PASSWORD)
    expect(page.locator(".story-title")).to_have_text(["Owner's private draft"])
    expect(outbox(page)).to_be_hidden()
    assert stored(server, "outbox_owner")["stories"] == {"Owner's private draft": (None, [])}
    assert stored(server, "outbox_guest")["stories"] == {"Guest's own": (None, [])}


def test_past_the_key_window_a_change_sent_unanswered_is_set_aside_not_made_twice(
    context, tmp_path
):
    # The server remembers a key 3 s here: a retry after that would be a new change.
    with ServerProcess(tmp_path, {"REQUEST_KEY_WINDOW": "3"}) as server:
        page = context.new_page()
        sign_up(page, server.url, "outbox_window")
        connected(page)
        reached: list[str] = []

        def apply_once_then_refuse(route: Route) -> None:
            if route.request.method != "POST":
                route.continue_()
            elif not reached:
                # The server makes the change; the answer is lost.
                reached.append(route.request.url)
                route.fetch()
                route.abort("connectionreset")
            else:
                route.abort("connectionrefused")

        context.route("**/graphql", apply_once_then_refuse)
        add_story(page, "https://example.com/once", "Sent once")
        expect(waiting_note(page)).to_have_text("1 change waiting to be sent")
        # Made offline, this one never reached the server: the window is nothing to it.
        context.set_offline(True)
        expect(page.get_by_role("status")).to_contain_text(
            "You're offline", timeout=OFFLINE_NOTICED_WITHIN
        )
        add_story(page, "https://example.com/offline", "Never sent")
        expect(waiting_note(page)).to_have_text("2 changes waiting to be sent")
        page.wait_for_timeout(3500)

        context.unroute("**/graphql", apply_once_then_refuse)
        context.set_offline(False)
        refused = outbox(page).locator("li.refused")
        expect(refused.locator(".what")).to_have_text(
            "Not saved: Add story “Sent once”", timeout=RETRIED_WITHIN
        )
        expect(refused.locator(".why")).to_contain_text("the server may have made it")
        expect(refused.locator(".detail")).to_have_text(["https://example.com/once"])
        expect(page.locator(".story-title")).to_have_text(["Never sent", "Sent once"])
        expect(waiting_note(page)).to_be_hidden()
        assert stored(server, "outbox_window")["stories"] == {
            "Sent once": (None, []),
            "Never sent": (None, []),
        }


def test_a_tab_left_open_never_sends_its_accounts_changes_as_the_next_account(server, context):
    stale = context.new_page()
    sign_up(stale, server.url, "stale_owner")
    connected(stale)
    context.route("**/graphql", refuse_changes)
    add_story(stale, "https://example.com/stale", "Queued in the old tab")
    expect(waiting_note(stale)).to_have_text("1 change waiting to be sent")
    # The old tab's socket, once closed, cannot come back (so the page is
    # not sent to the log-in page by it): only its outbox acts below.
    stale.route_web_socket(re.compile(r".*/graphql"), lambda socket: None)

    # In another tab of the same browser, its account signs out and someone
    # else signs in.
    other = context.new_page()
    other.goto(f"{server.url}/library")
    other.get_by_role("button", name="Sign out").click()
    other.wait_for_url(f"{server.url}/")
    sign_up(other, server.url, "stale_next")
    context.unroute("**/graphql", refuse_changes)

    # The old tab tries again, under the new session: refused, it is loaded
    # again as the account signed in now, and the change waits for its own.
    stale.evaluate("dispatchEvent(new Event('online'))")
    expect(stale.locator("header")).to_contain_text("stale_next")
    expect(stale.get_by_text("Queued in the old tab")).to_have_count(0)
    assert stored(server, "stale_next")["stories"] == {}
    assert stored(server, "stale_owner")["stories"] == {}


def test_a_library_tab_reconnecting_as_another_account_is_loaded_again_as_it(server, context):
    old = context.new_page()
    sign_up(old, server.url, "first_reader")
    connected(old)
    add_story(old, "https://example.com/first", "First reader's story")
    # Another account signs in, in another tab of the same browser.
    other = context.new_page()
    sign_up(other, server.url, "second_reader")
    add_story(other, "https://example.com/second", "Second reader's story")
    # The old tab's socket reconnects, now with the second account's session.
    old.bring_to_front()
    old.evaluate("dispatchEvent(new Event('offline'))")
    old.evaluate("dispatchEvent(new Event('online'))")
    expect(old.locator("header")).to_contain_text("second_reader")
    expect(old.locator(".story-title")).to_have_text(["Second reader's story"])
