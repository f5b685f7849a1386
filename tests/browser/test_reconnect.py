"""Stopping and restarting the server: the page says so, then catches up."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app import db
from app.models.counter import Counter
from tests.processes import ServerProcess


@pytest.fixture
def restartable(tmp_path):
    with ServerProcess(tmp_path) as server:
        yield server


def test_a_restart_shows_reconnecting_then_connected_with_fresh_data(restartable, context):
    page = context.new_page()
    page.goto(f"{restartable.url}/counters/survivor")
    status = page.get_by_role("status")
    expect(status).to_contain_text("Connected")
    restartable.stop()
    expect(status).to_contain_text("Reconnecting")
    # Change the data while the page cannot hear about it.
    db.open_database(f"sqlite:///{restartable.data_dir / 'app.db'}")
    try:
        Counter.set_value("survivor", 42)
    finally:
        db.close_database()
    restartable.start()
    expect(status).to_contain_text("Connected", timeout=15000)
    expect(page.get_by_label("Counter value")).to_have_text("42")
    expect(page.locator("[data-history] li").first).to_contain_text("0 → 42")
