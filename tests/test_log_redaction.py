"""Credentials never reach the log: a socket upgrade that fails on the
database logs the request without its `?token=`."""

from __future__ import annotations

import logging

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from app.models.auth_token import AuthToken
from app.web.base import redacted_uri
from tests.clients import sign_up


@pytest.mark.parametrize("path", ["/ws/counter/leaky", "/graphql"])
@pytest.mark.gen_test
async def test_a_database_error_at_a_socket_upgrade_logs_no_token(clients, caplog, path):
    token = await sign_up(clients, "discreet")
    AuthToken.drop_table()  # every credential lookup now fails in the database
    request = HTTPRequest(f"{clients.ws_url}{path}?token={token}&keep=1")
    with caplog.at_level(logging.DEBUG), pytest.raises(HTTPClientError) as failed:
        await websocket_connect(request, subprotocols=["graphql-transport-ws"])
    assert failed.value.code == 500
    assert "Uncaught exception" in caplog.text  # the failure itself is logged
    assert "keep=1" in caplog.text  # with the rest of the request
    assert token not in caplog.text


@pytest.mark.parametrize(
    ("uri", "logged"),
    [
        ("/ws/counter/x?token=s3cret", "/ws/counter/x?token=[redacted]"),
        ("/graphql?a=1&TOKEN=s3cret&b=2", "/graphql?a=1&TOKEN=[redacted]&b=2"),
        ("/graphql?tok%65n=s3cret", "/graphql?tok%65n=[redacted]"),
        ("/graphql?access_token=s3cret", "/graphql?access_token=[redacted]"),
        ("/graphql?Authorization=Bearer+s3cret", "/graphql?Authorization=[redacted]"),
        ("/graphql?query=%7B__typename%7D", "/graphql?query=%7B__typename%7D"),
        ("/counters/tokens", "/counters/tokens"),
    ],
)
def test_credential_parameters_are_redacted_from_logged_uris(uri, logged):
    assert redacted_uri(uri) == logged
