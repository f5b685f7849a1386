"""Pages render on the server, readable without JavaScript."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest


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


async def post_form(clients, path: str, fields: dict[str, str]):
    return await clients.fetch(
        path,
        method="POST",
        body=urlencode({"_xsrf": XSRF, **fields}),
        headers={"Cookie": f"_xsrf={XSRF}", "Accept": "text/html"},
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
