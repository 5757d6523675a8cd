"""A virtual clock for tests: time moves only when told to, and `sleep` jumps ahead at once.

It fits `trailsweep.base.clock.Clock` (and the emulator's `Clock`) by its shape, so a
limiter, a backoff, a pager or an emulator given one runs a minute of pacing in a
millisecond, the same way on a busy machine as on an idle one:

    clock = ManualClock()
    limiter = RateLimiter(2.0, clock=clock)
    await limiter.acquire(); await limiter.acquire()
    assert clock.monotonic() == 0.5  # the second call waited half a second, virtually
"""

from __future__ import annotations

import anyio


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
