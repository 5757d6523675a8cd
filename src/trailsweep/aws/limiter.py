"""One rate limiter per (account, region): GCRA, the token bucket without a refill loop.

The limiter keeps one number, the theoretical arrival time (TAT) of the next call at the
current rate. `acquire` reserves its slot synchronously, before any await, so callers are
served in call order with no queue to manage; then it sleeps on the injectable clock
until that slot. No task polls and nothing wakes up to refill tokens.

Guarantee: over any interval of length T, at most ``burst + rate * T`` slots fall, where
a slot is the time an `acquire` is allowed to return (a late wake-up of the event loop
can only make a return later than its slot, never earlier).

With burst 1 there is a second rule: returns are spaced by (almost) a whole interval in
real time too. Slots are fixed when reserved, so when the event loop is busy and wakes
waiters late, every waiter whose slot has passed would return in the same tick and the
server would see a burst; several NextToken chains per pair (slices.py) made that happen
(100 pairs at 1 s latency: 2.2% of calls throttled).

A stalled process (SIGSTOP, a suspended laptop, a long GC pause) wakes its waiters long
after their slots. The time lost is neither repaid nor dragged along (without this, after a
3 s SIGSTOP, calls stayed 0.49 s apart, above the quota, for ~150 s while the schedule
caught up). Each waiter that wakes makes sure the schedule's end lies at least an
interval past its own due time for every waiter still asleep behind it: the queued
waiters go out an interval apart from the moment the process runs again, and new
reservations fall in behind them, at the pace from before the stall. In normal running
that end is already there and nothing changes. A stall never lowers the rate, and
stalls.py keeps it out of the pair's latency.

Cancellation: a waiter cancelled before its slot gives the slot back when nobody reserved
after it (the TAT is restored). Otherwise the slot is simply lost: the callers behind it
keep their slots, so the limiter stays safe and is only a little slower.

`set_rate` is how adaptive throttling (`adaptive.AdaptiveRate`) raises the pace; it applies
to reservations made after the change, not to the ones already waiting. `slow_down` is how
it lowers the pace after a throttle: the server's bucket is empty then, so the next call
goes a whole new interval after the throttle (not at a slot the old pace had left), and
the waiters already asleep on slots of the old pace reserve again when they wake, behind
it at the new spacing. Several NextToken chains of one pair (slices.py) would otherwise
send their calls reserved at the old pace into the empty bucket, one throttle each.
"""

from __future__ import annotations

import math
from types import TracebackType

import anyio

from trailsweep.base.clock import SYSTEM_CLOCK, Clock

# With burst 1, a call due this close to its time (as a share of an interval) goes at
# once: a wake-up a hair early on a busy loop does not cost a whole extra sleep. Late
# waiters are spaced by whole intervals (0.98 of one let them catch up above the rate).
_SPACING = 0.98


def _check_rate(rate: float) -> float:
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be a finite number of calls per second above 0, not {rate}")
    return float(rate)


class RateLimiter:
    """At most `burst` calls at once, then `rate` calls per second, served first come first."""

    __slots__ = (
        "_asleep", "_burst", "_clock", "_epoch", "_interval", "_last", "_rate", "_slot", "_tat",
        "acquired",
    )  # fmt: skip

    def __init__(self, rate: float, burst: float = 1.0, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._rate = _check_rate(rate)
        self._interval = 1.0 / self._rate
        if not (burst >= 1 and math.isfinite(burst)):
            raise ValueError(f"burst must be a finite number of calls, at least 1, not {burst}")
        self._burst = float(burst)
        self._clock = clock
        self._tat = -math.inf  # theoretical arrival time of the next call
        self._last = -math.inf  # when the last `acquire` returned (or will: burst 1)
        self._slot = -math.inf  # the last slot reserved
        self._asleep = 0  # waiters still sleeping until their slot
        self._epoch = 0  # bumped by `slow_down`: slots reserved before it are given up
        self.acquired = 0  # how many `acquire` calls have returned

    @property
    def rate(self) -> float:
        """Calls per second for the next reservation (exactly what was last set)."""
        return self._rate

    @property
    def burst(self) -> float:
        return self._burst

    @property
    def epoch(self) -> int:
        """How many times `slow_down` was called: a call whose `acquire` returned under an
        older epoch was sent at an older pace."""
        return self._epoch

    def set_rate(self, rate: float) -> None:
        """Change the pace for reservations made from now on."""
        self._rate = _check_rate(rate)
        self._interval = 1.0 / self._rate

    def slow_down(self, rate: float) -> None:
        """Lower the pace after a throttle: the next slot is a whole new interval from now,
        and waiters asleep on slots of the old pace reserve again when they wake."""
        self.set_rate(rate)
        now = self._clock.monotonic()
        self._tat = now + self._interval
        self._slot = now  # the next call is spaced a whole interval from the throttle
        self._epoch += 1

    def space_after(self, moment: float) -> None:
        """No slot before an interval after `moment` (on this limiter's clock)."""
        self._tat = max(self._tat, moment + self._interval)

    async def acquire(self) -> None:
        """Wait for the next slot. Always a checkpoint, even when the slot is now."""
        while not await self._reserve_and_wait():
            pass  # the pace was lowered while we slept: our slot is void, reserve again
        self.acquired += 1

    async def _reserve_and_wait(self) -> bool:
        """Reserve a slot and sleep until it; False when `slow_down` voided it meanwhile."""
        epoch = self._epoch
        now = self._clock.monotonic()
        tat = max(self._tat, now)
        slot = max(now, tat - (self._burst - 1.0) * self._interval)
        previous = self._tat
        self._tat = reserved = tat + self._interval
        # What the slots intend between calls: at most an interval (after a stall or an
        # idle spell the gap between two slots says nothing about the pace).
        spacing, self._slot = min(slot - self._slot, self._interval), slot
        self._asleep += 1
        try:
            try:
                if slot > now:
                    await self._clock.sleep(slot - now)
                else:
                    await anyio.lowlevel.checkpoint()
            finally:
                self._asleep -= 1
            if self._epoch != epoch:
                return False
            if self._burst == 1.0:
                # Woken late (a busy event loop), the waiters behind us would wake in the
                # same tick and go out together: keep the calls actually made spaced.
                now = self._clock.monotonic()
                due = self._last = max(now, self._last + spacing)
                # After a stall, the waiters still asleep go out an interval apart after
                # us, and new reservations after them (see the module doc).
                self._tat = max(self._tat, due + (self._asleep + 1) * self._interval)
                if due - now > (1.0 - _SPACING) * spacing:  # a hair early is on time
                    await self._clock.sleep(due - now)
        except BaseException:
            if self._tat == reserved:  # nobody reserved after us: give the slot back
                self._tat = previous
            raise
        return True

    async def __aenter__(self) -> RateLimiter:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None
