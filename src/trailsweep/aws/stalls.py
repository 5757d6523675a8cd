"""Noticing that the whole process stood still, so that it is not mistaken for a slow server.

A process stopped with SIGSTOP, a suspended laptop, a long GC pause or a blocked event loop
sees every call in flight take as long as the stall. Read as server latency, that sample
would ask the pair for more time-slice chains (slices.py) until the moving average forgets
it. A `StallWatch` ticks every `tick` seconds on the event loop; a tick that
comes more than `threshold` seconds late is a stall, and `Pager.call` takes the stalled
seconds out of the call's latency sample. (The limiter needs no watch: limiter.py keeps
its pace across a stall on its own.)

Each sweep makes its own watch (`start`) and hands it to its pagers (`Pager(watch=...)`):
two sweeps in one process, even in one event loop, never share or end each other's.
The watch runs on the real clock only: a test clock that jumps inside `sleep`
(trailsweep.testing.ManualClock) gets none, as a ticker would make its time run away.
"""

from __future__ import annotations

from anyio.abc import TaskGroup

from trailsweep.base.clock import Clock, SystemClock

TICK = 0.25
THRESHOLD = 1.0


class StallWatch:
    """Seconds the process stood still so far: `stalled()`."""

    __slots__ = ("_clock", "_last", "threshold", "tick", "total")

    def __init__(self, clock: Clock, *, tick: float = TICK, threshold: float = THRESHOLD):
        self._clock = clock
        self.tick = tick
        self.threshold = threshold
        self.total = 0.0
        self._last = clock.monotonic()

    def _pending(self, now: float) -> float:
        gap = now - self._last - self.tick
        return gap if gap > self.threshold else 0.0

    def stalled(self) -> float:
        """Every stall so far, the one the ticker has not yet woken from included."""
        return self.total + self._pending(self._clock.monotonic())

    async def run(self) -> None:
        while True:
            await self._clock.sleep(self.tick)
            now = self._clock.monotonic()
            self.total += self._pending(now)
            self._last = now


def start(clock: Clock, task_group: TaskGroup) -> StallWatch | None:
    """A new watch ticking in `task_group` (it ends with it), for one sweep's pagers; on
    the real clock only (None for any other: nothing started)."""
    if not isinstance(clock, SystemClock):
        return None
    watch = StallWatch(clock)
    task_group.start_soon(watch.run)
    return watch
