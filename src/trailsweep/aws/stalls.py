"""Noticing that the whole process stood still, so that it is not mistaken for a slow server.

A process stopped with SIGSTOP, a suspended laptop, a long GC pause or a blocked event loop
sees every call in flight take as long as the stall. Read as server latency, that sample
would ask the pair for more time-slice chains (slices.py) until the moving average forgets
it. A `StallWatch` ticks every `tick` seconds on the event loop; a tick that
comes more than `threshold` seconds late is a stall, and `Pager.call` takes the stalled
seconds out of the call's latency sample. (The limiter needs no watch: limiter.py keeps
its pace across a stall on its own.)

One watch per event loop, found through `current()`; `sweep` runs one on the real clock.
A test clock that jumps inside `sleep` (clock.ManualClock) gets none: a ticker would
make its time run away.
"""

from __future__ import annotations

import asyncio
import weakref

from anyio.abc import TaskGroup

from trailsweep.base.clock import Clock, SystemClock

TICK = 0.25
THRESHOLD = 1.0

_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StallWatch] = (
    weakref.WeakKeyDictionary()
)


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


def current() -> StallWatch | None:
    """The watch of the running event loop, if any."""
    try:
        return _watches.get(asyncio.get_running_loop())
    except RuntimeError:
        return None


def start(clock: Clock, task_group: TaskGroup) -> StallWatch | None:
    """Watch this event loop for stalls in `task_group` (on the real clock only, and once
    per loop); `stop` it when done. None: nothing started."""
    loop = asyncio.get_running_loop()
    if not isinstance(clock, SystemClock) or loop in _watches:
        return None
    watch = StallWatch(clock)
    _watches[loop] = watch
    task_group.start_soon(watch.run)
    return watch


def stop(watch: StallWatch | None) -> None:
    """Forget `watch` (its ticker ends with its task group)."""
    for loop, known in list(_watches.items()):
        if known is watch:
            del _watches[loop]
