"""Injectable time. Limiters, backoff and the emulator's buckets take a Clock, never time.*.

Tests pass a virtual clock (`trailsweep.testing.ManualClock`) and advance it instead of
sleeping.
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


SYSTEM_CLOCK = SystemClock()


class ScaledClock:
    """Time `speed` times faster than the real one, its wall clock starting at `start`
    (epoch seconds): what a follower runs on against an emulator whose data clock runs
    at that speed (`trailsweep demo --follow`, benchmarks/follow.py), so a 30-second poll
    takes half a real second at 60x, and a limiter's 2 calls a second are 2 a simulated
    second."""

    __slots__ = ("_speed", "_start", "_t0")

    def __init__(self, speed: float, start: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._speed, self._start, self._t0 = speed, start, time.monotonic()

    def monotonic(self) -> float:
        return (time.monotonic() - self._t0) * self._speed

    def wall(self) -> float:
        return self._start + self.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds) / self._speed)
