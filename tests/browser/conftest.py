"""Browser tests: a real server process and Debian's Chromium via Playwright.

The browser is the system's `chromium` (the test command installs it), never
a downloaded one. A failing test leaves a screenshot of each of its pages in
test-artifacts/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

from app.config import PROJECT_ROOT
from tests.processes import ServerProcess

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("browser-data")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API keeps an event loop of its own
    # running while it is open, which would starve the Tornado loop of the
    # non-browser tests that run after these.
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed: the README's test command installs it"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


def _open_context(
    browser: Browser, request: pytest.FixtureRequest, **options
) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1100, "height": 800}, **options)
    context.set_default_timeout(5000)
    yield context
    if request.node.stash.get(FAILED, False):
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for n, page in enumerate(context.pages):
            page.screenshot(path=str(ARTIFACTS / f"{name}-{n}.png"), full_page=True)
    context.close()


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    yield from _open_context(browser, request)


@pytest.fixture
def other_context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    """A second browser: its own cookies, so another person."""
    yield from _open_context(browser, request)


@pytest.fixture
def third_context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    """A third browser: a third person."""
    yield from _open_context(browser, request)


def sign_up(page: Page, base_url: str, username: str, password: str = "correct horse") -> None:
    page.goto(f"{base_url}/signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base_url}/library")


def log_in(page: Page, base_url: str, username: str, password: str = "correct horse") -> None:
    """Logs in with the page's form, as a person does; lands on /library."""
    page.goto(f"{base_url}/login?next=/library")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/library")


def refuse_changes(route: Route) -> None:
    """A route handler: the server out of reach for changes (POSTs, as the
    pages' outboxes send them); the page itself loads."""
    if route.request.method == "POST":
        route.abort("connectionrefused")
    else:
        route.continue_()
