"""Pages render on the server, readable without JavaScript."""

from __future__ import annotations

import html
import importlib.metadata
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest

from app.clock import utcnow
from app.config import PROJECT_ROOT
from app.models.follow import CounterFollow
from app.models.user import User
from tests.clients import sign_up


@pytest.mark.gen_test
async def test_the_home_page_says_what_this_is_and_links_a_counter(clients):
    response = await clients.fetch("/")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = response.body.decode()
    assert "Live counters" in html
    assert 'href="/counters/hello"' in html


@pytest.mark.gen_test
async def test_the_counter_page_shows_the_current_value(clients):
    await clients.data('mutation { setCounterValue(name: "shown", value: 1234) { value } }')
    response = await clients.fetch("/counters/shown")
    html = response.body.decode()
    assert response.code == 200
    assert 'aria-label="Counter value"' in html
    assert ">1234</div>" in html
    assert 'role="status"' in html


WATCHERS = re.compile(r"<p [^>]*data-watchers[^>]*>(.*?)</p>", re.S)
SIGN_UP = 'mutation($u: String!) { signUp(username: $u, password: "correct horse") { token } }'
LONG_NAME = "a_name_long_enough_to_be_cut_off"  # the 32 characters a name may have


async def watchers_line(clients, path: str, cookie: str | None = None) -> str:
    """The counter page's line about who watches, as text, as rendered."""
    response = await clients.fetch(path, headers={"Cookie": cookie} if cookie else {})
    match = WATCHERS.search(response.body.decode())
    assert match, "the page has a watchers line"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))


@pytest.mark.gen_test(timeout=30)
async def test_the_counter_page_is_rendered_naming_who_watches_it(clients):
    assert await watchers_line(clients, "/counters/seen") == "0 watching"
    await clients.counter_socket("seen")
    assert await watchers_line(clients, "/counters/seen") == "1 watching"  # nobody named
    signed_up = await clients.graphql(SIGN_UP, {"u": "alice"})
    cookie = signed_up.headers["Set-Cookie"].split(";")[0]
    await clients.counter_socket("seen", token=signed_up.body["data"]["signUp"]["token"])
    await clients.counter_socket("seen", token=await sign_up(clients, "bob"))
    assert await watchers_line(clients, "/counters/seen") == "3 watching: alice, bob and 1 more"
    as_alice = await watchers_line(clients, "/counters/seen", cookie)
    assert as_alice == "3 watching: you, bob and 1 more"

    # More names than the line holds: the first few, then how many more.
    for username in (LONG_NAME, "carol"):
        await clients.counter_socket("seen", token=await sign_up(clients, username))
    line = await watchers_line(clients, "/counters/seen", cookie)
    assert line == f"5 watching: you, {LONG_NAME}, bob and 2 more"
    page = (await clients.fetch("/counters/seen")).body.decode()
    assert f'<span class="member" title="{LONG_NAME}">{LONG_NAME}</span>' in page


@pytest.mark.gen_test
async def test_a_bad_counter_name_gets_a_400_page(clients):
    response = await clients.fetch("/counters/semi;colon", headers={"Accept": "text/html"})
    assert response.code == 400
    assert "1 to 64 characters" in response.body.decode()


@pytest.mark.gen_test
async def test_unknown_paths_get_404_without_a_traceback(clients):
    response = await clients.fetch("/no/such/page", headers={"Accept": "text/html"})
    assert response.code == 404
    assert "Traceback" not in response.body.decode()


#: Any value does as the xsrf token, as long as cookie and field agree.
XSRF = "5f1d0c0ffee5f1d0c0ffee"


async def post_form(clients, path: str, fields: dict[str, str], cookie: str = ""):
    """Posts `fields` as a page's form does; `cookie`: a signed-in session's."""
    return await clients.fetch(
        path,
        method="POST",
        body=urlencode({"_xsrf": XSRF, **fields}),
        headers={"Cookie": f"_xsrf={XSRF}; {cookie}", "Accept": "text/html"},
        follow_redirects=False,
    )


@pytest.mark.parametrize(
    ("name", "op"),
    [
        ("x" * 65, "increment"),
        ("semi;colon", "increment"),
        ("tab%09bed", "reset"),
        ("", "setValue"),
    ],
)
@pytest.mark.gen_test
async def test_the_counter_form_for_an_invalid_name_gets_a_400_page_saying_why(clients, name, op):
    response = await post_form(clients, f"/counters/{name}", {"op": op, "amount": "1"})
    html = response.body.decode()
    assert response.code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert "1 to 64 characters" in html
    assert "Traceback" not in html


@pytest.mark.gen_test
async def test_the_counter_form_refused_shows_the_page_again_saying_why(clients):
    await clients.data('mutation { setCounterValue(name: "refused", value: 7) { value } }')
    response = await post_form(clients, "/counters/refused", {"op": "increment", "amount": "x"})
    page = response.body.decode()
    assert response.code == 400
    assert "The amount must be a whole number." in page
    assert ">7</div>" in page
    assert "Traceback" not in page


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["/no/such/page", "/counters/a/b", "/static-ish", "/graphql/x"])
async def test_every_unknown_path_gets_the_styled_404_page(clients, path):
    response = await clients.fetch(path, headers={"Accept": "text/html"})
    assert response.code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    html = response.body.decode()
    assert "404: Not Found" in html
    assert "/css/app.css" in html  # the site's page, not Tornado's bare one
    assert 'href="/"' in html


@pytest.mark.gen_test
async def test_unknown_paths_answer_json_to_api_clients(clients):
    response = await clients.fetch("/no/such/thing", headers={"Accept": "application/json"})
    assert response.code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.body) == {"error": "Not Found"}


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("type_name", "explained"),
    [
        ("Counter", "anyone may read, watch and change one"),
        ("Library", "Nobody else can read it, change it, or receive its events"),
    ],
)
async def test_what_the_schemas_comments_explain_is_in_its_descriptions(
    clients, type_name, explained
):
    data = await clients.data(f'{{ __type(name: "{type_name}") {{ description }} }}')
    assert explained in (data["__type"]["description"] or "")


@pytest.mark.gen_test
async def test_uplot_is_served_from_the_installed_package_and_not_kept_in_the_repository(clients):
    distribution = importlib.metadata.distribution("uplot-python")
    for name, media in (("uPlot.iife.js", "javascript"), ("uPlot.min.css", "text/css")):
        response = await clients.fetch(f"/vendor/uplot/{name}")
        assert response.code == 200
        assert media in response.headers["Content-Type"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        installed = Path(str(distribution.locate_file(f"uplot/static/{name}")))
        assert response.body == installed.read_bytes()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "uPlot" not in tracked
    # Nothing else of the package is reachable.
    for other in ("uPlot.mousewheel.js", "__init__.py", "../plot.py"):
        assert (await clients.fetch(f"/vendor/uplot/{other}")).code == 404


@pytest.mark.gen_test
async def test_uplots_licence_is_served_with_its_copyright_and_the_mit_text(clients):
    response = await clients.fetch("/vendor/uplot/LICENSE")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.body.decode()
    assert "Copyright (c) 2021, Leon Sorokin" in text
    assert "uPlot" in text
    assert "Permission is hereby granted, free of charge" in text
    assert "The above copyright notice and this permission notice shall be included" in text


@pytest.mark.gen_test
async def test_the_status_page_and_its_samples_hold_only_totals(clients):
    await clients.data('mutation { incrementCounter(name: "private-looking") { value } }')
    page = await clients.fetch("/status", headers={"Accept": "text/html"})
    assert page.code == 200
    assert "Open connections" in page.body.decode()
    response = await clients.fetch("/status.json")
    assert response.code == 200
    body = json.loads(response.body)
    assert body["every"] == 1.0
    assert body["kept"] == 300
    for sample in body["samples"]:
        assert set(sample) == {
            "t",
            "connections",
            "subscriptions",
            "messages_per_second",
            "fanout_ms",
            "errors_per_second",
        }
    assert "private-looking" not in response.body.decode()


@pytest.mark.gen_test
@pytest.mark.parametrize("since", ["yesterday", "nan", "inf", ""])
async def test_status_samples_refuse_a_since_that_is_not_a_time(clients, since):
    response = await clients.fetch(f"/status.json?since={since}")
    assert response.code == 400
    assert "since must be a Unix time" in json.loads(response.body)["error"]


@pytest.mark.gen_test
async def test_the_explorer_shows_what_each_field_is_for(clients):
    response = await clients.fetch("/graphql", headers={"Accept": "text/html"})
    assert response.code == 200
    html = response.body.decode()
    assert "<code>counter(name: String!): CounterUpdateEvent!</code>" in html
    assert "Every change to the named counter, from any client." in html


# ------------------------------------------------------------- following

FOLLOW_BUTTON = re.compile(r"<button [^>]*data-follow[^>]*>([^<]*)</button>")
TOASTS = re.compile(r"<div class=\"toasts\"[^>]*>")


async def signed_up_cookie(clients, username: str) -> tuple[str, str]:
    """A new user's session cookie (as a browser keeps it) and bearer token."""
    reply = await clients.graphql(SIGN_UP, {"u": username})
    return reply.headers["Set-Cookie"].split(";")[0], reply.body["data"]["signUp"]["token"]


async def follow_button(clients, name: str, cookie: str) -> tuple[str, str] | None:
    """The counter page's Follow button as rendered: (aria-pressed, words)."""
    page = (await clients.fetch(f"/counters/{name}", headers={"Cookie": cookie})).body.decode()
    match = FOLLOW_BUTTON.search(page)
    if match is None:
        return None
    pressed = re.search(r'aria-pressed="(\w+)"', match.group(0))
    assert pressed, "the Follow button is a toggle"
    return pressed.group(1), match.group(1)


@pytest.mark.gen_test(timeout=30)
async def test_the_follow_button_is_rendered_in_the_viewers_state(clients):
    cookie, token = await signed_up_cookie(clients, "alice")
    bob, _ = await signed_up_cookie(clients, "bob")
    assert await follow_button(clients, "news", cookie) == ("false", "Follow")
    await clients.data('mutation { followCounter(name: "news") { name } }', token=token)
    assert await follow_button(clients, "news", cookie) == ("true", "Following")
    assert await follow_button(clients, "sport", cookie) == ("false", "Follow")
    assert await follow_button(clients, "news", bob) == ("false", "Follow")  # alice's alone

    signed_out = (await clients.fetch("/counters/news")).body.decode()
    assert FOLLOW_BUTTON.search(signed_out) is None
    assert '<a href="/login?next=/counters/news">Sign in to follow</a>' in signed_out


@pytest.mark.gen_test(timeout=30)
async def test_the_follow_form_works_without_javascript_and_says_a_refusal(clients):
    cookie, token = await signed_up_cookie(clients, "alice")
    response = await post_form(clients, "/counters/news/follow", {"follow": "1"}, cookie)
    assert (response.code, response.headers["Location"]) == (303, "/counters/news")
    assert await follow_button(clients, "news", cookie) == ("true", "Following")
    # The form says the state wanted: a stale page's second press is harmless.
    await post_form(clients, "/counters/news/follow", {"follow": "1"}, cookie)
    assert await follow_button(clients, "news", cookie) == ("true", "Following")
    await post_form(clients, "/counters/news/follow", {"follow": "0"}, cookie)
    assert await follow_button(clients, "news", cookie) == ("false", "Follow")

    alice = User.by_username("alice")
    CounterFollow.insert_many(
        [{"user": alice.id, "counter_name": f"c{n}", "created_at": utcnow()} for n in range(100)]
    ).execute()
    response = await post_form(clients, "/counters/news/follow", {"follow": "1"}, cookie)
    page = html.unescape(response.body.decode())
    assert response.code == 400
    assert "You follow 100 counters, the most one may" in page
    assert FOLLOW_BUTTON.search(page).group(1) == "Follow"

    signed_out = await post_form(clients, "/counters/other/follow", {"follow": "1"})
    assert signed_out.code == 403
    data = await clients.data("{ following(first: 1) { totalCount } }", token=token)
    assert data["following"]["totalCount"] == 100


@pytest.mark.gen_test(timeout=30)
async def test_live_pages_give_a_signed_in_viewer_the_position_of_their_notifications(clients):
    cookie, _ = await signed_up_cookie(clients, "alice")
    for path in ("/counters", "/counters/news", "/library"):
        page = (await clients.fetch(path, headers={"Cookie": cookie})).body.decode()
        toasts = TOASTS.search(page).group(0)
        assert "data-signed-in" in toasts, path
        assert re.search(r'data-offset="0" data-epoch="[^"]+"', toasts), path
    signed_out = (await clients.fetch("/counters/news")).body.decode()
    toasts = TOASTS.search(signed_out).group(0)
    assert "data-signed-in" not in toasts
    assert "data-offset" not in toasts
