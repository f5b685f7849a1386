"""`extensions.expectedViewer`: a change that names the account it was made
by is refused, changing nothing, when it comes with another account's
session (or none): the pages' outboxes name it, so that a change queued by
one account in a tab left open is never made as whoever signs in next."""

from __future__ import annotations

import pytest

from tests.clients import bearer, sign_up

INCREMENT = 'mutation { incrementCounter(name: "expected") { value } }'
VALUE = '{ counter(name: "expected") { value } }'
ME = "{ viewer { id } }"


async def value(clients) -> int:
    return (await clients.data(VALUE))["counter"]["value"]


@pytest.mark.gen_test
async def test_a_change_is_made_only_under_the_account_it_names(clients):
    ada = await sign_up(clients, "expected_ada")
    bob = await sign_up(clients, "expected_bob")
    ada_id = (await clients.data(ME, token=ada))["viewer"]["id"]

    mine = await clients.graphql(
        INCREMENT, headers=bearer(ada), extensions={"expectedViewer": ada_id}
    )
    assert mine.body == {"data": {"incrementCounter": {"value": 1}}}

    for headers in (bearer(bob), {}):  # another account; nobody signed in
        refused = await clients.graphql(
            INCREMENT, headers=headers, extensions={"expectedViewer": ada_id}
        )
        assert refused.status == 401
        [error] = refused.body["errors"]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert "another account" in error["message"]
    assert await value(clients) == 1

    # A visitor's change names nobody: refused under an account's session.
    visitor = await clients.graphql(INCREMENT, extensions={"expectedViewer": None})
    assert visitor.body == {"data": {"incrementCounter": {"value": 2}}}
    signed_in = await clients.graphql(
        INCREMENT, headers=bearer(bob), extensions={"expectedViewer": None}
    )
    assert signed_in.status == 401
    # Without the extension, as ever.
    plain = await clients.graphql(INCREMENT, headers=bearer(bob))
    assert plain.body == {"data": {"incrementCounter": {"value": 3}}}
