"""make_app installs module state; close_app takes every piece of it back."""

from __future__ import annotations

import asyncio

import pytest
from tornado.ioloop import IOLoop

from app import db, events
from app.application import close_app, make_app
from app.config import Settings
from app.events import counter_topic
from app.models import stream, throttle
from app.models.counter import Counter
from tests.cleanup import assert_nothing_left


class Recorder:
    def __init__(self) -> None:
        self.events: list[object] = []

    def deliver(self, event: object, shared: dict[object, object]) -> None:
        self.events.append(event)


def test_close_app_undoes_the_module_state_make_app_installs(
    settings: Settings, io_loop: IOLoop
) -> None:
    application = make_app(settings)
    io_loop.run_sync(lambda: asyncio.sleep(0))  # make_app's start callbacks run
    services = application.settings["services"]
    heard = Recorder()
    services.registry.add(counter_topic("kept"), heard)
    change = Counter.increment("kept")
    throttle.sign_ups.count("203.0.113.9")
    chores = [*services.chores, *services.realtime.chores]
    assert heard.events == [change]
    assert stream.database_epoch() != ""
    assert chores
    assert all(chore.is_running() for chore in chores)

    close_app(application)

    events.publish(change)
    assert heard.events == [change]  # the publisher is gone
    assert stream.database_epoch() == ""  # the models keep no history
    assert all(not limiter.events for limiter in throttle.limiters())
    assert not any(chore.is_running() for chore in chores)
    assert db.database.is_closed()


class Listener:
    def deliver(self, event: object, shared: dict[object, object]) -> None:
        pass


def test_the_cleanup_check_fails_on_a_subscriber_left_behind(app, io_loop: IOLoop) -> None:
    services = app.settings["services"]
    left = Listener()
    services.registry.add(counter_topic("forgotten"), left)
    with pytest.raises(AssertionError, match="subscribers left in the registry"):
        assert_nothing_left(io_loop, services, timeout=0.1)
    services.registry.discard(counter_topic("forgotten"), left)
    assert_nothing_left(io_loop, services, timeout=0.1)


def test_the_cleanup_check_fails_on_a_presence_still_counted(app, io_loop: IOLoop) -> None:
    services = app.settings["services"]
    key = ("counter", "forgotten")

    async def enter() -> None:
        services.presence.enter(key)

    async def leave() -> None:
        services.presence.leave(key)

    io_loop.run_sync(enter)
    with pytest.raises(AssertionError, match="presence still counting"):
        assert_nothing_left(io_loop, services, timeout=0.1)
    io_loop.run_sync(leave)
    assert_nothing_left(io_loop, services, timeout=0.1)
