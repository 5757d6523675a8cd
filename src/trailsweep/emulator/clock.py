"""What the emulator needs of a clock, and the real one it uses unless told otherwise.

The emulator is its own package: it imports nothing of trailsweep outside itself. So it
states its needs as a Protocol: anything with these three methods will do, by its shape
alone. trailsweep's own clocks fit it (`trailsweep.testing.ManualClock` is what the
tests pass), and so does a test's own.

    with EmulatorThread(settings, clock=ManualClock()) as emu:
        ...  # credentials and NextTokens expire when the test moves the clock

The wall clock stamps AssumeRole expiries and NextToken ages (and the data clock when
`realtime`); the monotonic one paces the per-pair quota; `sleep` is injected latency.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """The time the emulator reads and waits on."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """The system's clocks; `sleep` waits on the emulator's own (asyncio) event loop."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


REAL_CLOCK = RealClock()
