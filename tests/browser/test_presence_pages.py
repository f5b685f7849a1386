"""Presence in a real browser: how many watch a counter, how many tabs
a user has open, kept live as tabs open and close."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import log_in, sign_up


def test_two_tabs_on_a_counter_both_show_2_watching_then_1_after_one_closes(server, context):
    first, second = context.new_page(), context.new_page()
    for page in (first, second):
        page.goto(f"{server.url}/counters/watched")
        expect(page.get_by_role("status")).to_contain_text("Connected")
    expect(first.locator("[data-watchers]")).to_have_text("2 watching")
    expect(second.locator("[data-watchers]")).to_have_text("2 watching")
    second.close()
    expect(first.locator("[data-watchers]")).to_have_text("1 watching")


def test_the_library_shows_how_many_of_the_users_tabs_are_open(server, context, other_context):
    first = context.new_page()
    sign_up(first, server.url, "many_tabs")
    expect(first.locator("[data-tabs]")).to_have_text(ONE_CHROME)
    counter = context.new_page()
    counter.goto(f"{server.url}/counters/somewhere")  # any page of ours is a tab
    expect(first.locator("[data-tabs]")).to_have_text(
        re.compile(r"^2 tabs open: Chrome on [\w ]+ \(2\)$")
    )
    stranger = other_context.new_page()
    sign_up(stranger, server.url, "not_them")
    expect(stranger.locator("[data-tabs]")).to_have_text(ONE_CHROME)
    counter.close()
    expect(first.locator("[data-tabs]")).to_have_text(ONE_CHROME)
    expect(stranger.locator("[data-tabs]")).to_have_text(ONE_CHROME)


def test_the_library_names_the_devices_the_users_tabs_are_on(server, context, browser):
    laptop = context.new_page()
    sign_up(laptop, server.url, "two_devices")
    expect(laptop.locator("[data-tabs]")).to_have_text(ONE_CHROME)
    phone_browser = browser.new_context(user_agent=ANDROID_FIREFOX)
    try:
        phone = phone_browser.new_page()
        log_in(phone, server.url, "two_devices")
        for page in (laptop, phone):
            expect(page.locator("[data-tabs]")).to_have_text(
                re.compile(r"^2 tabs open: Chrome on [\w ]+, Firefox on Android$")
            )
    finally:
        phone_browser.close()
    expect(laptop.locator("[data-tabs]")).to_have_text(ONE_CHROME)


#: The test browser's own tab: Chrome on whatever system runs the tests.
ONE_CHROME = re.compile(r"^1 tab open: Chrome on [\w ]+$")
ANDROID_FIREFOX = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"
