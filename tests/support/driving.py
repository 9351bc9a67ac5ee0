"""Driving a live session in process on a manual clock: the loop over a platform and a store,
its events collected, and time advanced tick by tick (the end-to-end tests of each adapter)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from qasession.clock import ManualClock
from qasession.plan import Session
from qasession.platforms.base import Platform
from qasession.session.loop import LiveSession, LiveSettings
from qasession.store import Store


def manual_session(
    session: Session, platform: Platform, clock: ManualClock, home: Path, *, tail: timedelta
) -> tuple[LiveSession, Store, list[dict[str, Any]]]:
    """The live loop of `session` on `platform` with the store of `home`, and its events."""
    store = Store.open(home)
    events: list[dict[str, Any]] = []
    live = LiveSession(
        session, store, platform, clock, events.append, settings=LiveSettings(seed=1, tail=tail)
    )
    return live, store, events


def step(live: LiveSession, clock: ManualClock, until: datetime, *, pause: float = 0.0) -> None:
    """Tick the loop, advancing the clock to its next wake-up (half a second at least), until
    `until` or the session's end; `pause` real seconds between ticks for a server's threads."""
    while clock.now() < until and not live.ended:
        clock.advance(max(live.tick(), 0.5))
        if pause:
            time.sleep(pause)
