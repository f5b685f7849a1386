"""A user's devices in presence: `libraryPresence` lists the viewer's open
signed-in connections with a label from each one's User-Agent and when it
opened, with joins and leaves; nobody else is ever told them."""

from __future__ import annotations

import pytest

from app.realtime.devices import UNKNOWN, device_label
from tests.clients import Clients, GraphQLSocket, bearer, open_graphql_socket, sign_up
from tests.test_presence import next_for, settled

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
DEVICES = (
    "subscription { libraryPresence {"
    " tabs devices { id label since } joined { label } left { label } } }"
)


async def device_socket(clients: Clients, token: str, user_agent: str) -> GraphQLSocket:
    socket = await open_graphql_socket(clients, headers={**bearer(token), "User-Agent": user_agent})
    await socket.init()
    return socket


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (FIREFOX_LINUX, "Firefox on Linux"),
        (CHROME_WINDOWS, "Chrome on Windows"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (CHROME_WINDOWS + " Edg/126.0.0.0", "Edge on Windows"),
        ("Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile Safari/537.36", "Chrome on Android"),
        ("curl/8.5.0", UNKNOWN),
        ("", UNKNOWN),
    ],
)
def test_a_device_label_names_browser_and_system_never_the_header(user_agent, label):
    assert device_label(user_agent) == label


@pytest.mark.gen_test(timeout=30)
async def test_library_presence_lists_the_viewers_devices_with_joins_and_leaves(clients, app):
    token = await sign_up(clients, "dana")
    laptop = await device_socket(clients, token, FIREFOX_LINUX)
    await laptop.subscribe("d", DEVICES)
    first = (await next_for(laptop, "d"))["libraryPresence"]
    assert first["tabs"] == 1
    assert [device["label"] for device in first["devices"]] == ["Firefox on Linux"]
    assert first["devices"][0]["since"].endswith("Z")
    assert (first["joined"], first["left"]) == ([], [])

    desktop = await device_socket(clients, token, CHROME_WINDOWS)
    joined = (await next_for(laptop, "d"))["libraryPresence"]
    assert joined["tabs"] == 2
    assert [d["label"] for d in joined["devices"]] == ["Firefox on Linux", "Chrome on Windows"]
    assert joined["devices"][0] == first["devices"][0]  # the same connection, oldest first
    assert joined["joined"] == [{"label": "Chrome on Windows"}]

    desktop.close()
    left = (await next_for(laptop, "d"))["libraryPresence"]
    assert left["tabs"] == 1
    assert left["devices"] == first["devices"]
    assert left["left"] == [{"label": "Chrome on Windows"}]
    laptop.close()
    await settled(app)


@pytest.mark.gen_test(timeout=30)
async def test_a_users_devices_are_theirs_alone(clients, app):
    dana, eve = await sign_up(clients, "dana"), await sign_up(clients, "eve")
    spy = await device_socket(clients, eve, CHROME_WINDOWS)
    await spy.subscribe("d", DEVICES)
    own = (await next_for(spy, "d"))["libraryPresence"]
    assert [device["label"] for device in own["devices"]] == ["Chrome on Windows"]
    # Eve watches the counter Dana watches: she may learn Dana's name there
    # (watching shows it), never Dana's devices.
    await spy.subscribe(
        "c", 'subscription { counterPresence(name: "shared") { watchers members { username } } }'
    )
    await next_for(spy, "c")

    laptop = await device_socket(clients, dana, FIREFOX_LINUX)
    await laptop.subscribe("w", 'subscription { counter(name: "shared") { value } }')
    named = await next_for(spy, "c")
    assert named == {"counterPresence": {"watchers": 1, "members": [{"username": "dana"}]}}
    watcher = await clients.counter_socket("shared", token=dana)
    await watcher.members(["dana"], 2)
    named = await next_for(spy, "c")
    assert named == {"counterPresence": {"watchers": 2, "members": [{"username": "dana"}]}}
    await spy.nothing_more(0.6)  # no notice on Eve's libraryPresence for Dana's connections
    assert all("Firefox" not in str(frame) for frame in watcher.presence_frames)

    anonymous = await open_graphql_socket(clients)
    await anonymous.init()
    await anonymous.subscribe("d", DEVICES)
    refused = await anonymous.receive()
    assert refused["type"] == "error"
    assert refused["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for socket in (spy, laptop, watcher, anonymous):
        socket.close()
    await settled(app)
