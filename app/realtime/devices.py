"""A user's devices in presence: which of their connections are open.

Each signed-in socket counts towards its user's presence key as a tab
(app.realtime.presence) and is named there by one member string saying
when it joined, which connection it is, and a device label reduced from
its User-Agent ("Firefox on Linux"). Reducing keeps the raw header (with
its versions and build details) out of presence: the label is always one
of the few words below. These members travel only on the user's own key,
so only that user is ever told them.

Being members, devices get what counter members get for free: joins and
leaves in each notice, Redis across processes, and expiry with a dead
process.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from app.clock import isoformat_ms, utcnow

#: (what the User-Agent contains, the browser it means); first match wins,
#: so browsers built on another's engine come before it.
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
UNKNOWN = "Unknown device"


def device_label(user_agent: str | None) -> str:
    """Such as "Firefox on Linux", "Chrome" or "Linux"; UNKNOWN when the
    header names none; never the header itself. Each label is one shared
    string, so an idle socket that keeps its label (its headers are
    dropped) costs a reference."""
    text = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in text), None)
    system = next((name for mark, name in _SYSTEMS if mark in text), None)
    return _label(browser, system)


@lru_cache(maxsize=64)
def _label(browser: str | None, system: str | None) -> str:
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or UNKNOWN


@dataclass(frozen=True, slots=True)
class Device:
    """One open connection of a user: which, what, since when."""

    id: str
    label: str
    since: datetime

    def member(self) -> str:
        """As a presence member: sorting members sorts devices by age."""
        return f"{isoformat_ms(self.since)} {self.id} {self.label}"


def new_device(label: str) -> Device:
    """The device of a connection opening now, labelled by `device_label`."""
    return Device(uuid.uuid4().hex[:12], label, utcnow())


def parse_device(member: str) -> Device:
    """The device a member string names (`Device.member`)."""
    since, device_id, label = member.split(" ", 2)
    return Device(device_id, label, datetime.fromisoformat(since.removesuffix("Z")))
