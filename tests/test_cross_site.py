"""Cross-site use: CORS for listed origins only, socket origins, security
headers, and Secure cookies behind a trusted HTTPS proxy."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlencode

import orjson
import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from tests.clients import sign_up
from tests.processes import ServerProcess

FRIEND = "https://app.example.com"
STRANGER = "https://evil.example.net"


@pytest.fixture
def settings(settings):
    return settings.with_overrides(cors_origins=(FRIEND,))


async def preflight(clients, origin: str):
    return await clients.fetch(
        "/graphql",
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )


@pytest.mark.gen_test
async def test_a_listed_origin_gets_cors_preflight_and_answers(clients):
    response = await preflight(clients, FRIEND)
    assert response.code == 204
    assert response.headers["Access-Control-Allow-Origin"] == FRIEND
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    reply = await clients.graphql("{ __typename }", headers={"Origin": FRIEND})
    assert reply.headers["Access-Control-Allow-Origin"] == FRIEND
    assert reply.headers["Vary"] == "Origin"


@pytest.mark.gen_test
async def test_any_other_origin_gets_no_cors_grant(clients):
    response = await preflight(clients, STRANGER)
    assert response.code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "CORS_ORIGINS" in orjson.loads(response.body)["errors"][0]["message"]
    reply = await clients.graphql("{ __typename }", headers={"Origin": STRANGER})
    assert "Access-Control-Allow-Origin" not in reply.headers


@pytest.mark.parametrize("path", ["/graphql", "/ws/counter/x"])
@pytest.mark.gen_test
async def test_socket_upgrades_from_another_site_are_refused(clients, path):
    url = clients.ws_url + path
    subprotocols = ["graphql-transport-ws"] if path == "/graphql" else None
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(
            HTTPRequest(url, headers={"Origin": STRANGER}), subprotocols=subprotocols
        )
    assert refused.value.code == 403
    for origin in (FRIEND, clients.base_url):  # listed, and this site itself
        connection = await websocket_connect(
            HTTPRequest(url, headers={"Origin": origin}), subprotocols=subprotocols
        )
        connection.close()


@pytest.mark.gen_test
async def test_pages_send_a_content_security_policy_and_the_usual_headers(clients):
    response = await clients.fetch("/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    api = await clients.graphql("{ __typename }")
    assert api.headers["X-Content-Type-Options"] == "nosniff"


def sign_up_cookie(base_url: str, username: str, forwarded_proto: str) -> str:
    request = urllib.request.Request(
        base_url + "/graphql",
        data=json.dumps(
            {
                "query": f'mutation {{ signUp(username: "{username}", password: "correct horse") {{ token }} }}'
            }
        ).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-Proto": forwarded_proto},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Set-Cookie"]


@pytest.mark.parametrize(("trust", "secure"), [("1", True), ("", False)])
def test_cookies_are_secure_behind_a_trusted_https_proxy(tmp_path, trust, secure):
    with ServerProcess(tmp_path, {"TRUST_PROXY": trust}) as server:
        cookie = sign_up_cookie(server.url, "proxied", "https")
        assert ("Secure" in cookie) is secure
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie


#: Any value does as the xsrf token, as long as cookie and field agree.
XSRF = "5f1d0c0ffee5f1d0c0ffee"
HOSTILE_NEXT = [
    "/\r\nSet-Cookie: planted=1",
    "/\nLocation: https://evil.example.net/",
    "/\t/evil.example.net",
    "/\x00/evil.example.net",
    "/\x7f/evil.example.net",
    "/\u2028/evil.example.net",
    "//evil.example.net",
    "/\\evil.example.net",
    "\\\\evil.example.net",
    "https://evil.example.net/",
    "javascript:alert(1)",
    "",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
@pytest.mark.gen_test
async def test_login_never_redirects_off_site_or_with_control_characters(clients, target):
    await sign_up(clients, "traveller")
    page = await clients.fetch("/login?" + urlencode({"next": target}))
    assert page.code == 200
    assert 'name="next" value="/library"' in page.body.decode()
    response = await clients.fetch(
        "/login",
        method="POST",
        body=urlencode(
            {"_xsrf": XSRF, "username": "traveller", "password": "correct horse", "next": target}
        ),
        headers={"Cookie": f"_xsrf={XSRF}"},
        follow_redirects=False,
    )
    assert response.code == 303
    assert response.headers["Location"] == "/library"
    assert "planted" not in str(response.headers)


@pytest.mark.gen_test
async def test_login_returns_to_a_path_on_this_site(clients):
    await sign_up(clients, "returning")
    response = await clients.fetch(
        "/login",
        method="POST",
        body=urlencode(
            {
                "_xsrf": XSRF,
                "username": "returning",
                "password": "correct horse",
                "next": "/counters/here?from=login#top",
            }
        ),
        headers={"Cookie": f"_xsrf={XSRF}"},
        follow_redirects=False,
    )
    assert response.code == 303
    assert response.headers["Location"] == "/counters/here?from=login#top"
