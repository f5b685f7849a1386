"""The library and account pages in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, sign_up

WITHIN_A_SECOND = 1000


def add_story(page, url: str, title: str, description: str = "", *, added: bool = True) -> None:
    page.get_by_label("URL").fill(url)
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill(description)
    page.get_by_role("button", name="Add story").click()
    if added:  # the form empties once the story is in: not while typing the next
        expect(page.get_by_label("URL")).to_have_value("")


def test_library_changes_in_one_tab_show_in_the_other_within_a_second(
    server, context, other_context
):
    first = context.new_page()
    sign_up(first, server.url, "two_tabs")
    second = context.new_page()
    second.goto(f"{server.url}/library")
    for page in (first, second):
        expect(page.get_by_role("status")).to_contain_text("Connected")
    intruder = other_context.new_page()
    sign_up(intruder, server.url, "somebody_else")
    expect(intruder.get_by_role("status")).to_contain_text("Connected")

    first.bring_to_front()
    add_story(first, "https://example.com/tabs", "Shared between tabs", "read me")
    expect(second.get_by_text("Shared between tabs")).to_be_visible(timeout=WITHIN_A_SECOND)
    expect(second.get_by_text("1 story")).to_be_visible(timeout=WITHIN_A_SECOND)

    first.get_by_label("Tag name").fill("urgent")
    first.get_by_role("button", name="Create tag").click()
    first.get_by_label("Add a tag to Shared between tabs").select_option(label="urgent")
    expect(second.locator(".story .chip", has_text="urgent")).to_be_visible(timeout=WITHIN_A_SECOND)

    second.bring_to_front()
    second.get_by_role("button", name="Edit Shared between tabs").click()
    second.get_by_label("Title", exact=True).last.fill("Renamed in tab two")
    second.get_by_role("button", name="Save").click()
    first.bring_to_front()
    expect(first.get_by_text("Renamed in tab two")).to_be_visible(timeout=WITHIN_A_SECOND)

    first.once("dialog", lambda dialog: dialog.accept())
    first.get_by_role("button", name="Delete Renamed in tab two").click()
    expect(second.get_by_text("Renamed in tab two")).to_have_count(0, timeout=WITHIN_A_SECOND)
    expect(second.get_by_text("0 stories")).to_be_visible(timeout=WITHIN_A_SECOND)

    # The other person saw none of it.
    intruder.bring_to_front()
    expect(intruder.get_by_text("0 stories")).to_be_visible()
    expect(intruder.get_by_text("Shared between tabs")).to_have_count(0)
    expect(intruder.get_by_text("urgent")).to_have_count(0)


def test_tags_filter_rename_recolour_and_delete(server, context):
    page = context.new_page()
    sign_up(page, server.url, "tagger")
    add_story(page, "https://example.com/one", "First story")
    add_story(page, "https://example.com/two", "Second story")
    expect(page.get_by_text("2 stories")).to_be_visible()
    page.get_by_label("Tag name").fill("keep")
    page.get_by_role("button", name="Create tag").click()
    page.get_by_label("Add a tag to First story").select_option(label="keep")
    page.get_by_role("button", name="Show stories tagged keep").click()
    expect(page.locator(".story")).to_have_count(1)
    expect(page.locator(".story")).to_contain_text("First story")
    page.get_by_role("button", name="Show all").click()
    expect(page.locator(".story")).to_have_count(2)

    page.get_by_role("button", name="Edit tag keep").click()
    page.locator(".tag form input[name=name]").fill("kept")
    page.locator(".tag form input[name=color]").fill("#ff0000")
    page.get_by_role("button", name="Save").click()
    chip = page.locator(".story .chip", has_text="kept")
    expect(chip).to_be_visible()
    expect(chip).to_have_attribute("style", "--tag: #ff0000;")
    page.get_by_role("button", name="Remove tag kept from First story").click()
    expect(page.locator(".story .chip")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete tag kept").click()
    expect(page.locator(".tags .tag")).to_have_count(0)


def field_error(page, field):
    """The message the page shows at `field`, by its aria-describedby (once
    the field points to one: the server's answer may still be on its way)."""
    expect(field).to_have_attribute("aria-describedby", re.compile(r"\S"))
    return page.locator(f"#{field.get_attribute('aria-describedby')}")


def test_a_rule_broken_in_the_add_story_form_is_shown_at_the_field(server, context):
    page = context.new_page()
    sign_up(page, server.url, "careful")
    add_story(page, "https://example.com/dup", "Original")
    add_story(page, "https://EXAMPLE.com/dup/", "Again", added=False)
    url = page.get_by_label("URL")
    expect(url).to_have_attribute("aria-invalid", "true")
    expect(url).to_be_focused()
    expect(field_error(page, url)).to_have_text(
        "This link is already in your library, as “Original”."
    )
    # Fixed, the message goes.
    url.fill("https://example.com/other")
    page.get_by_role("button", name="Add story").click()
    expect(page.get_by_role("link", name="Again")).to_be_visible()
    expect(url).not_to_have_attribute("aria-invalid", "true")


def test_an_empty_title_and_a_bad_link_are_said_in_plain_words_at_their_fields(server, context):
    page = context.new_page()
    sign_up(page, server.url, "plain_words")
    url, title = page.get_by_label("URL"), page.get_by_label("Title")
    add_story(page, "ftp://example.com/file", "   ", added=False)
    # Both are wrong: both say so, and the first of them has the focus.
    expect(url).to_have_attribute("aria-invalid", "true")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(field_error(page, url)).to_have_text("Use a link that starts with https://")
    expect(field_error(page, title)).to_have_text("Title can't be empty")
    expect(url).to_be_focused()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "library-field-errors.png"))

    # What only the server knows to refuse lands at the field too.
    add_story(page, "https://", "A title", added=False)
    expect(field_error(page, url)).to_have_text("Use a link that starts with https://")
    expect(url).to_be_focused()
    expect(title).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("0 stories")).to_be_visible()

    # The same words in an edit form.
    add_story(page, "https://example.com/fine", "Fine")
    page.get_by_role("button", name="Edit Fine").click()
    edit_title = page.locator(".story form.edit input[name=title]")
    edit_title.fill("  ")
    page.get_by_role("button", name="Save").click()
    expect(edit_title).to_have_attribute("aria-invalid", "true")
    expect(edit_title).to_be_focused()
    expect(field_error(page, edit_title)).to_have_text("Title can't be empty")


def test_after_show_all_the_filter_note_goes(server, context):
    page = context.new_page()
    sign_up(page, server.url, "filterer")
    add_story(page, "https://example.com/f1", "Filtered one")
    add_story(page, "https://example.com/f2", "Filtered two")
    page.get_by_label("Tag name").fill("only")
    page.get_by_role("button", name="Create tag").click()
    page.get_by_label("Add a tag to Filtered one").select_option(label="only")
    page.get_by_role("button", name="Show stories tagged only").click()
    note = page.locator("[data-filter-note]")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Showing stories tagged")
    page.get_by_role("button", name="Show all").click()
    expect(page.locator(".story")).to_have_count(2)
    expect(note).to_be_hidden()


def test_a_tags_remove_button_is_at_least_24_px_square(server, context):
    page = context.new_page()
    sign_up(page, server.url, "tapper")
    add_story(page, "https://example.com/tap", "Tap me")
    page.get_by_label("Tag name").fill("small")
    page.get_by_role("button", name="Create tag").click()
    page.get_by_label("Add a tag to Tap me").select_option(label="small")
    remove = page.get_by_role("button", name="Remove tag small from Tap me")
    expect(remove).to_be_visible()
    box = remove.bounding_box()
    assert box["width"] >= 24, box
    assert box["height"] >= 24, box


def test_on_a_phone_the_tags_show_above_the_stories(server, browser):
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = phone.new_page()
        sign_up(page, server.url, "on_the_phone")
        tags = page.locator(".tags-card").bounding_box()
        stories = page.locator("[data-stories]").bounding_box()
        assert tags["y"] + tags["height"] <= stories["y"], (tags, stories)
        assert tags["width"] <= 390
    finally:
        phone.close()


def test_the_library_needs_a_login_and_returns_there_after_it(server, context):
    page = context.new_page()
    page.goto(f"{server.url}/library")
    page.wait_for_url(f"{server.url}/login?next=%2Flibrary")
    page.get_by_role("link", name="Sign up").last.click()
    page.get_by_label("Username").fill("returning")
    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{server.url}/library")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{server.url}/")
    page.goto(f"{server.url}/login")
    page.get_by_label("Username").fill("returning")
    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/library")


def test_sign_in_and_sign_up_form_errors_are_shown(server, context):
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Username").fill("nobody_here")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Username")).to_have_value("nobody_here")
    page.goto(f"{server.url}/signup")
    page.get_by_label("Username").fill("x")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("alert")).to_contain_text("3 to 32 characters")


def test_the_forms_work_without_javascript(server, browser):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/signup")
        page.get_by_label("Username").fill("no_script")
        page.get_by_label("Password").fill("correct horse")
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url(f"{server.url}/library")
        expect(page.get_by_text("0 stories")).to_be_visible()
        page.goto(f"{server.url}/counters/plain")
        page.get_by_role("button", name="Increment").click()
        expect(page.get_by_label("Counter value")).to_have_text("1")
    finally:
        context.close()


def test_what_is_typed_while_a_story_is_being_added_stays(server, context):
    page = context.new_page()
    sign_up(page, server.url, "typing_ahead")
    expect(page.get_by_role("status")).to_contain_text("Connected")
    held: list = []

    def hold_changes(route) -> None:
        if route.request.method == "POST":
            held.append(route)  # answered below, once the next is being typed
        else:
            route.continue_()

    page.route("**/graphql", hold_changes)
    add_story(page, "https://example.com/first", "The first", "its words", added=False)
    expect(page.get_by_role("button", name="Add story")).to_be_disabled()
    # The next story, typed while the first is on its way.
    page.get_by_label("URL").fill("https://example.com/next")
    page.get_by_label("Description").fill("half a thought")
    for _ in range(100):  # (the handler runs as Playwright hears of the request)
        if held:
            break
        page.wait_for_timeout(20)
    assert len(held) == 1
    held[0].continue_()

    expect(page.get_by_role("link", name="The first")).to_be_visible()
    expect(page.get_by_role("button", name="Add story")).to_be_enabled()
    expect(page.get_by_label("URL")).to_have_value("https://example.com/next")
    expect(page.get_by_label("Description")).to_have_value("half a thought")
    expect(page.get_by_label("Title", exact=True)).to_have_value("")  # sent, and untouched since
