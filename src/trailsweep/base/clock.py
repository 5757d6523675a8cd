"""Injectable time. Limiters, backoff and the emulator's buckets take a Clock, never time.*.

Tests pass a :class:`ManualClock` and advance it instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Protocol

import anyio


class Clock(Protocol):
    """What the time-based parts of trailsweep need from time."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told to; ``sleep`` advances it at once (an autojump clock)."""

    __slots__ = ("_now", "_wall0", "slept")

    def __init__(self, start: float = 0.0, wall: float = 1_790_000_000.0) -> None:
        self._now = start
        self._wall0 = wall - start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._wall0 + self._now

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await anyio.lowlevel.checkpoint()


SYSTEM_CLOCK = SystemClock()
