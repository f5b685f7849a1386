"""The graphql-sse protocol module driven directly: its framing as stock
clients parse it, positions as event ids and back, and the bounds of
reservations. (Streams end to end: test_graphql_sse.py and, with the npm
client, test_node_graphql_sse.py.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.protocols.graphql_sse import (
    COMPLETE,
    NEXT,
    RESERVATION_SECONDS,
    Reservations,
    event,
    position_id,
    since_from_last_event_id,
)
from app.realtime.history import Position, PositionError


def test_a_next_event_is_one_data_line_with_the_position_as_its_id():
    payload = b'{"data":{"x":"a\\nb"},"extensions":{"stream":{"offset":7,"epoch":"e1"}}}'
    assert event(NEXT, payload, position_id(payload)) == (
        b"event: next\nid: 7:e1\ndata: " + payload + b"\n\n"
    )


def test_a_distinct_complete_keeps_an_empty_data_field_for_event_source():
    assert event(COMPLETE, None) == b"event: complete\ndata:\n\n"


@pytest.mark.parametrize(
    "payload",
    [
        b'{"data":{"counter":{"value":1}}}',  # a query's result
        b'{"extensions":{"stream":{"recovered":false}}}',  # no position known
        b'{"data":null,"extensions":{"stream":{"offset":"1","epoch":"e"}}}',
        b"[1]",
    ],
)
def test_payloads_without_a_position_have_no_id(payload):
    assert position_id(payload) is None


def test_last_event_id_names_the_position_it_was_sent_with():
    assert since_from_last_event_id("41:9f3c") == Position(41, "9f3c")
    assert since_from_last_event_id("3:from-2") == Position(3, "from-2")


@pytest.mark.parametrize("value", ["yesterday", ":e", "-1:e", "1.5:e", "٣:e", "1:" + "e" * 65])
def test_a_malformed_last_event_id_says_what_is_wrong(value):
    with pytest.raises(PositionError):
        since_from_last_event_id(value)


class Later:
    """What Reservations schedules, run when the test says time is up."""

    def __init__(self) -> None:
        self.due: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> None:
        self.due.append((delay, callback))


def test_a_reservation_serves_its_owner_only_and_expires_unclaimed():
    later = Later()
    reservations = Reservations(later)
    ada = reservations.reserve(owner=1)
    anonymous = reservations.reserve(owner=None)
    assert ada is not None
    assert anonymous is not None
    assert len(ada.token) >= 32
    assert ada.token != anonymous.token
    assert reservations.find(ada.token, 1) is ada
    assert reservations.find(ada.token, 2) is None
    assert reservations.find(ada.token, None) is None
    assert reservations.find(anonymous.token, 1) is None
    assert [delay for delay, _ in later.due] == [RESERVATION_SECONDS] * 2
    for _, expire in later.due:
        expire()
    assert reservations.find(ada.token, 1) is None
    assert reservations.streams == {}


def test_reservations_are_bounded():
    reservations = Reservations(Later(), limit=2)
    first = reservations.reserve(None)
    assert first is not None
    assert reservations.reserve(None) is not None
    assert reservations.reserve(None) is None
    reservations.drop(first)
    assert reservations.reserve(None) is not None
