"""Who watches a counter, by name, in a real browser: signed-in watchers
named (the viewer as "you"), anonymous ones counted, kept live as tabs open
and close; past the server's bound (PRESENCE_MEMBERS, 4 here) the count
alone. The page as rendered says the same as the live line."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import ExitStack
from urllib.parse import quote
from urllib.request import Request, urlopen

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from websockets.sync.client import ClientConnection, connect

from tests.browser.conftest import sign_up
from tests.processes import ServerProcess, post_graphql

BOUND = 4
LONG_NAME = "alexandra_with_a_very_long_name"  # 31 of the 32 characters a name may have
SIGN_UP = 'mutation($u: String!) { signUp(username: $u, password: "correct horse") { token } }'
WATCHERS = re.compile(r"<p [^>]*data-watchers[^>]*>(.*?)</p>", re.S)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"PRESENCE_MEMBERS": str(BOUND)}
    with ServerProcess(tmp_path_factory.mktemp("browser-data"), env) as running:
        yield running


def open_counter(page: Page, server: ServerProcess, name: str) -> None:
    page.goto(f"{server.url}/counters/{name}")
    expect(page.get_by_role("status")).to_contain_text("Connected")


def watchers(page: Page):
    return page.locator("[data-watchers]")


def rendered(server: ServerProcess, name: str, context: BrowserContext) -> str:
    """The line as the server renders the page for this browser's user now."""
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
    request = Request(f"{server.url}/counters/{name}", headers={"Cookie": cookie})
    with urlopen(request, timeout=10) as response:
        match = WATCHERS.search(response.read().decode())
    assert match, "the page has a watchers line"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))


def watch(stack: ExitStack, server: ServerProcess, counter: str, username: str) -> ClientConnection:
    """A new user watching `counter` on the counter socket, signed in."""
    token = post_graphql(server.url, SIGN_UP, {"u": username})["data"]["signUp"]["token"]
    url = f"{server.ws}/ws/counter/{counter}?token={quote(token)}"
    socket = stack.enter_context(connect(url))
    assert '"snapshot"' in socket.recv(timeout=5)
    return socket


def test_alice_and_bob_see_each_other_an_anonymous_tab_is_1_more_and_bob_leaving_drops_him(
    server, context, other_context, third_context
):
    alice, bob, anonymous = context.new_page(), other_context.new_page(), third_context.new_page()
    sign_up(alice, server.url, "alice")
    sign_up(bob, server.url, "bob")
    open_counter(alice, server, "gathering")
    open_counter(bob, server, "gathering")
    expect(watchers(alice)).to_have_text("2 watching: you and bob")
    expect(watchers(bob)).to_have_text("2 watching: you and alice")
    expect(watchers(alice).locator(".member[title=bob]")).to_have_text("bob")

    open_counter(anonymous, server, "gathering")
    expect(watchers(alice)).to_have_text("3 watching: you, bob and 1 more")
    expect(watchers(bob)).to_have_text("3 watching: you, alice and 1 more")
    expect(watchers(anonymous)).to_have_text("3 watching: alice, bob and 1 more")

    bob.close()
    expect(watchers(alice)).to_have_text("2 watching: you and 1 more")
    expect(watchers(anonymous)).to_have_text("2 watching: alice and 1 more")
    anonymous.close()
    expect(watchers(alice)).to_have_text("1 watching: you")
    # Said to assistive technology as it changes, as one sentence.
    expect(watchers(alice)).to_have_attribute("aria-live", "polite")
    expect(watchers(alice)).to_have_attribute("aria-atomic", "true")


def test_a_long_name_is_cut_short_but_kept_whole_and_past_the_bound_only_the_count(server, context):
    dora = context.new_page()
    sign_up(dora, server.url, "dora")
    open_counter(dora, server, "crowd")
    with ExitStack() as stack:
        for username in (LONG_NAME, "erin", "frank"):
            watch(stack, server, "crowd", username)
        line = f"4 watching: you, {LONG_NAME}, erin and 1 more"
        expect(watchers(dora)).to_have_text(line)
        assert rendered(server, "crowd", context) == line
        long_name = watchers(dora).locator(f".member[title='{LONG_NAME}']")
        expect(long_name).to_have_text(LONG_NAME)  # whole for screen readers, and in its title
        assert long_name.evaluate("span => span.scrollWidth > span.clientWidth"), "cut short"

        gus = watch(stack, server, "crowd", "gus")  # five names: past the bound
        expect(watchers(dora)).to_have_text("5 watching")
        assert rendered(server, "crowd", context) == "5 watching"

        gus.close()
        expect(watchers(dora)).to_have_text(line)
