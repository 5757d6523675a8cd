"""One rate limiter per (account, region): GCRA, the token bucket without a refill loop.

Each `acquire` reserves the next slot synchronously (so callers are served in call order),
then sleeps on the injectable clock until that slot. Over any interval of length T at
most ``burst + rate * T`` acquisitions complete. A cancelled waiter gives its slot back
when nobody reserved after it; otherwise the slot is simply lost (the limiter stays safe,
only a little slower). `set_rate` is how adaptive throttling lowers and raises the pace.
"""

from __future__ import annotations

from types import TracebackType

from trailsweep.clock import SYSTEM_CLOCK, Clock


class RateLimiter:
    __slots__ = ("_burst", "_clock", "_interval", "_tat", "acquired")

    def __init__(self, rate: float, burst: float = 1.0, *, clock: Clock = SYSTEM_CLOCK) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._interval = 1.0 / rate
        self._burst = burst
        self._clock = clock
        self._tat = float("-inf")  # theoretical arrival time of the next call
        self.acquired = 0

    @property
    def rate(self) -> float:
        return 1.0 / self._interval

    def set_rate(self, rate: float) -> None:
        """Change the pace for reservations made from now on."""
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self._interval = 1.0 / rate

    async def acquire(self) -> None:
        """Wait for the next slot."""
        now = self._clock.monotonic()
        tat = max(self._tat, now)
        slot = max(now, tat - (self._burst - 1.0) * self._interval)
        previous, self._tat = self._tat, tat + self._interval
        reserved = self._tat
        try:
            if slot > now:
                await self._clock.sleep(slot - now)
        except BaseException:
            if self._tat == reserved:  # nobody queued behind us: give the slot back
                self._tat = previous
            raise
        self.acquired += 1

    async def __aenter__(self) -> RateLimiter:
        await self.acquire()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None
