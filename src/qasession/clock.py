"""Clocks: the real one, and a virtual one that runs N times faster for rehearsals."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the core asks of time: the current instant (UTC, aware) and a way to wait; and,
    since platforms keep their rate windows on the wall clock whatever speed a rehearsal
    runs at, the wall-clock instant and its place on this clock's timeline."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""

    def wall_now(self) -> datetime:
        """The instant a platform's rate window is measured on."""
        ...

    def to_session(self, wall: datetime) -> datetime:
        """The instant of this clock at which the wall clock reads `wall`."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wall_now(self) -> datetime:
        return self.now()

    def to_session(self, wall: datetime) -> datetime:
        return wall


class VirtualClock:
    """Virtual time that starts at `virtual_anchor` when real time is `real_anchor` and then
    runs `speed` times faster. Anchors are stored, so a restarted process resumes the same
    virtual timeline."""

    def __init__(self, virtual_anchor: datetime, real_anchor: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.virtual_anchor = virtual_anchor
        self.real_anchor = real_anchor
        self.speed = speed

    def now(self) -> datetime:
        elapsed = datetime.now(UTC) - self.real_anchor
        return self.virtual_anchor + elapsed * self.speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def wall_now(self) -> datetime:
        return datetime.now(UTC)

    def to_session(self, wall: datetime) -> datetime:
        return self.virtual_anchor + (wall - self.real_anchor) * self.speed


class ManualClock:
    """A clock tests move by hand; `sleep` advances it instantly."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def wall_now(self) -> datetime:
        return self.current

    def to_session(self, wall: datetime) -> datetime:
        return wall
