"""Following a counter from its page, and other people's changes to it
told as toasts on every live page of the follower's."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.conftest import sign_up
from tests.browser.test_counter_outbox import change, connected, go_offline, record_toasts
from tests.processes import ServerProcess

#: Long enough for a notification that was coming to have come: they are
#: gathered 300 ms before being shown (static/js/notifications.js).
QUIET_MS = 1500


def follow_button(page: Page):
    return page.locator("[data-follow]")


def open_page(context: BrowserContext, url: str, toasts: bool = True) -> Page:
    """A page of ours, connected; `toasts`: its toasts recorded."""
    page = context.new_page()
    page.goto(url)
    connected(page)
    if toasts:
        record_toasts(page)
    return page


def signed_up_following(
    context: BrowserContext, server: ServerProcess, username: str, counter: str
) -> Page:
    """A new user's page on `counter`, which they follow from it."""
    page = context.new_page()
    sign_up(page, server.url, username)
    page.goto(f"{server.url}/counters/{counter}")
    follow_button(page).click()
    expect(follow_button(page)).to_have_attribute("aria-pressed", "true")
    return page


def toasts(page: Page) -> list[str]:
    return page.evaluate("window.toldToasts")


def expect_toasts(page: Page, told: list[str]) -> None:
    page.wait_for_function(
        "(told) => JSON.stringify(window.toldToasts) === JSON.stringify(told)", arg=told
    )


def expect_no_more_toasts(page: Page, told: list[str]) -> None:
    page.wait_for_timeout(QUIET_MS)
    assert toasts(page) == told


def test_following_from_the_page_shows_the_state_only_once_the_server_says_it(server, context):
    page = context.new_page()
    sign_up(page, server.url, "alice")
    page.goto(f"{server.url}/counters/news")
    connected(page)
    button = follow_button(page)
    expect(button).to_have_text("Follow")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button).to_have_accessible_description("Be shown others' changes to it as they happen.")

    # The answer held back: the button waits, unable to be pressed again.
    held: list[Route] = []
    context.route("**/graphql", lambda route: held.append(route))
    button.click()
    while not held:  # the route handler runs while Playwright waits
        page.wait_for_timeout(50)
    expect(button).to_have_attribute("aria-disabled", "true")
    expect(button).to_have_attribute("aria-pressed", "false")
    button.click(force=True)  # pressed again meanwhile: nothing more is sent
    page.wait_for_timeout(300)
    assert len(held) == 1
    body = held[0].request.post_data_json
    assert "followCounter" in body["query"]
    assert body["variables"]["name"] == "news"
    assert len(body["variables"]["key"]) >= 32  # a key of its own
    held[0].continue_()
    context.unroute("**/graphql")
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_have_text("Following")
    expect(button).not_to_have_attribute("aria-disabled", "true")
    expect(button).to_be_focused()  # still where the keyboard was
    # What the state means, said to a screen reader and seen beside it.
    hint = "Others' changes to it are shown to you as they happen; press again to stop."
    expect(button).to_have_accessible_description(hint)
    assert page.locator("#follow-hint").inner_text() == hint

    page.reload()
    expect(follow_button(page)).to_have_attribute("aria-pressed", "true")
    follow_button(page).click()
    expect(follow_button(page)).to_have_attribute("aria-pressed", "false")
    expect(follow_button(page)).to_have_text("Follow")
    page.reload()
    expect(follow_button(page)).to_have_attribute("aria-pressed", "false")


def test_another_tab_on_the_counter_shows_the_new_state_too(server, context):
    first = context.new_page()
    sign_up(first, server.url, "two_tabs")
    first.goto(f"{server.url}/counters/tabbed")
    second = open_page(context, f"{server.url}/counters/tabbed", toasts=False)
    follow_button(first).click()
    expect(follow_button(second)).to_have_attribute("aria-pressed", "true")
    expect(follow_button(second)).to_have_text("Following")


def test_a_refused_follow_is_said_in_words_and_the_button_stays(server, context):
    page = context.new_page()
    sign_up(page, server.url, "collector")
    token = server.graphql(
        'mutation { signIn(username: "collector", password: "correct horse") { token } }'
    )["data"]["signIn"]["token"]
    for n in range(100):
        server.graphql(f'mutation {{ followCounter(name: "c{n}") {{ name }} }}', token=token)
    page.goto(f"{server.url}/counters/one-more")
    follow_button(page).click()
    expect(page.locator("[data-error]")).to_have_text(
        "You follow 100 counters, the most one may; unfollow one before following another."
    )
    expect(follow_button(page)).to_have_attribute("aria-pressed", "false")
    expect(follow_button(page)).not_to_have_attribute("aria-disabled", "true")


def test_signed_out_the_page_offers_to_sign_in_to_follow(server, context):
    page = context.new_page()
    page.goto(f"{server.url}/counters/news")
    expect(follow_button(page)).to_have_count(0)
    link = page.get_by_role("link", name="Sign in to follow")
    expect(link).to_have_attribute("href", "/login?next=/counters/news")


def test_others_changes_to_a_followed_counter_are_toasts_on_the_followers_pages(
    server: ServerProcess, context, other_context, third_context
):
    alice = signed_up_following(context, server, "follower", "headlines")
    record_toasts(alice)
    library = open_page(context, f"{server.url}/library")
    counters = open_page(context, f"{server.url}/counters")
    elsewhere = open_page(context, f"{server.url}/counters/elsewhere")
    bob = other_context.new_page()
    sign_up(bob, server.url, "changer")
    bob.goto(f"{server.url}/counters/headlines")
    connected(bob)

    change(bob, "Increment", 3)
    told = ["changer changed headlines: 0 → 3"]
    expect_toasts(library, told)
    expect_toasts(counters, told)
    expect_toasts(elsewhere, told)
    # The followed counter's own page tells of it as of any change, once.
    expect_toasts(alice, ["changer: increment 0 → 3"])
    link = library.locator("[data-toasts] a")
    expect(link).to_have_text("headlines")
    expect(link).to_have_attribute("href", "/counters/headlines")

    anonymous = open_page(third_context, f"{server.url}/counters/headlines", toasts=False)
    change(anonymous, "Decrement", 1)
    told.append("Someone changed headlines: 3 → 2")
    expect_toasts(library, told)

    # Her own change, from her counter page: no notification anywhere.
    change(alice, "Increment", 1)
    expect(alice.get_by_label("Counter value")).to_have_text("3")
    expect_no_more_toasts(library, told)
    assert toasts(counters) == told
    assert toasts(alice) == ["changer: increment 0 → 3", "Someone: decrement 3 → 2"]


def test_a_burst_of_notifications_is_one_toast_with_the_count(
    server: ServerProcess, context, other_context
):
    alice = signed_up_following(context, server, "away", "busy")
    library = open_page(context, f"{server.url}/library")
    bob = other_context.new_page()
    sign_up(bob, server.url, "busy_bob")
    bob.goto(f"{server.url}/counters/busy")
    connected(bob)

    # Away while bob makes five changes; back, they are replayed at once.
    go_offline(context, library, alice)
    for _ in range(5):
        change(bob, "Increment", 1)
    expect(bob.locator("[data-outbox]")).to_be_hidden()
    expect(bob.get_by_label("Counter value")).to_have_text("5")
    context.set_offline(False)
    told = ["5 changes to counters you follow, the last: busy_bob changed busy: 4 → 5"]
    expect_toasts(library, told)
    expect_no_more_toasts(library, told)


def test_after_unfollowing_others_changes_are_not_told(server, context, other_context):
    alice = signed_up_following(context, server, "fickle", "passing")
    library = open_page(context, f"{server.url}/library")
    bob = other_context.new_page()
    sign_up(bob, server.url, "still_here")
    bob.goto(f"{server.url}/counters/passing")
    connected(bob)
    change(bob, "Increment", 1)
    told = ["still_here changed passing: 0 → 1"]
    expect_toasts(library, told)

    follow_button(alice).click()
    expect(follow_button(alice)).to_have_attribute("aria-pressed", "false")
    change(bob, "Increment", 1)
    expect(alice.get_by_label("Counter value")).to_have_text("2")
    expect_no_more_toasts(library, told)


def test_a_follow_whose_answer_was_lost_says_so_and_a_second_press_follows_once(server, context):
    page = context.new_page()
    sign_up(page, server.url, "lost_follower")
    page.goto(f"{server.url}/counters/lost-follow")
    connected(page)
    keys: list[str] = []

    def apply_then_drop(route: Route) -> None:
        # The real server follows; the page never hears back.
        keys.append(route.request.post_data_json["variables"]["key"])
        route.fetch()
        route.abort("connectionreset")

    page.route("**/graphql", apply_then_drop)
    follow_button(page).click()
    expect(page.locator("[data-error]")).to_contain_text("may or may not have taken this")
    expect(follow_button(page)).to_have_attribute("aria-pressed", "false")
    page.unroute("**/graphql", apply_then_drop)

    page.on(
        "request",
        lambda r: r.method == "POST" and keys.append(r.post_data_json["variables"]["key"]),
    )
    follow_button(page).click()
    expect(follow_button(page)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-error]")).to_have_text("")
    # The same change, sent again with its key.
    assert len(keys) == 2, keys
    assert keys[0] == keys[1], keys
    page.reload()
    expect(follow_button(page)).to_have_attribute("aria-pressed", "true")
