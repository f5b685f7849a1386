"""The library and account pages in a real browser."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import sign_up

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


def test_a_rule_broken_in_the_add_story_form_is_shown(server, context):
    page = context.new_page()
    sign_up(page, server.url, "careful")
    add_story(page, "https://example.com/dup", "Original")
    add_story(page, "https://EXAMPLE.com/dup/", "Again", added=False)
    expect(page.get_by_role("alert")).to_contain_text("already in your library")


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
