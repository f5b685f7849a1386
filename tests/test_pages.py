"""Pages render on the server, readable without JavaScript."""

from __future__ import annotations

import json

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
