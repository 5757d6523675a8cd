"""The pace after throttles (AdaptiveRate) and how the limiter places the calls after one,
on clocks the tests move. The emulator's bucket in the comments: 2 calls, refilled at
what the other caller leaves."""

from __future__ import annotations

import anyio
import pytest

from test_limiter import VirtualClock, run_virtual
from trailsweep.aws.adaptive import AdaptiveRate
from trailsweep.aws.limiter import RateLimiter
from trailsweep.testing import ManualClock


def _accepted(pace: AdaptiveRate, answered: list[float]) -> None:
    for done in answered:
        pace.on_success(done)


def test_a_throttle_after_two_calls_drops_under_what_a_90_percent_caller_leaves() -> None:
    """Throttled on the third call at 2/s (a full bucket of 2 let two through: anything
    from 0 to 1 call/s may be left), the pace drops to 8% of the quota, under the 10% a
    caller taking 90% leaves; successes climb back to the quota, never above it."""
    limiter = RateLimiter(2.0, clock=ManualClock())
    pace = AdaptiveRate(limiter)
    _accepted(pace, [0.0, 0.5])
    pace.on_throttle(limiter.epoch, 1.0)
    assert limiter.rate == pytest.approx(0.16)
    rates = []
    for _ in range(300):
        pace.on_success()
        rates.append(limiter.rate)
    assert rates == sorted(rates)
    # The climb aims at 0.9x the upper bound (1 refill in the 1 s between the first
    # answer and the throttle's) over 20 calls, then goes on by 2% a call.
    assert rates[19] == pytest.approx(0.9)
    assert rates[20] == pytest.approx(rates[19] * 1.02)
    assert rates[-1] == 2.0


def test_the_first_throttle_timing_bounds_the_drop() -> None:
    """At 2/s with half the quota taken, the bucket lets three calls through (0, 0.5, 1.0)
    and throttles the fourth: 1 call/s is left. The pace drops under that (0.9x the lower
    bound, 1 refill in 1 s) and climbs to 0.9x the upper bound (2 refills in 1.5 s)."""
    limiter = RateLimiter(2.0, clock=ManualClock())
    pace = AdaptiveRate(limiter)
    _accepted(pace, [0.0, 0.5, 1.0])
    pace.on_throttle(limiter.epoch, 1.5)
    assert limiter.rate == pytest.approx(0.9)
    for _ in range(20):
        pace.on_success()
    assert limiter.rate == pytest.approx(0.9 * 2 / 1.5)


def test_a_throttle_after_a_long_run_is_the_usual_decrease() -> None:
    """A throttle after 100 calls at the full pace says little about what is left (the
    other caller came later): 0.7 x 0.9 x the rate, and the cubic climbs back."""
    limiter = RateLimiter(2.0, clock=ManualClock())
    pace = AdaptiveRate(limiter)
    _accepted(pace, [i / 2 for i in range(100)])
    pace.on_throttle(limiter.epoch, 50.0)
    assert limiter.rate == pytest.approx(2.0 * 0.9 * 0.7)
    rates = []
    for _ in range(300):
        pace.on_success()
        rates.append(limiter.rate)
    assert rates == sorted(rates)
    assert rates[-1] == 2.0


def test_a_throttle_of_a_call_sent_at_the_old_pace_does_not_lower_it_again() -> None:
    """Chains of one pair had calls in flight when the pace dropped: their throttles were
    earned at the old pace and lower nothing further."""
    limiter = RateLimiter(2.0, clock=ManualClock())
    pace = AdaptiveRate(limiter)
    before = limiter.epoch
    _accepted(pace, [i / 2 for i in range(100)])
    pace.on_throttle(before, 50.0)
    dropped = limiter.rate
    pace.on_throttle(before, 50.0)
    assert limiter.rate == dropped
    pace.on_throttle(limiter.epoch, 51.0)  # sent at the lowered pace: that one counts
    assert limiter.rate < dropped


def test_repeated_throttles_never_go_below_the_floor() -> None:
    """However often it is throttled, the pace stays above 5% of the quota."""
    limiter = RateLimiter(2.0, clock=ManualClock())
    pace = AdaptiveRate(limiter)
    for _ in range(100):
        pace.on_throttle()
    assert limiter.rate == pytest.approx(0.1)


@pytest.mark.anyio
async def test_after_a_slow_down_the_next_call_waits_a_whole_new_interval() -> None:
    """Throttled at t=0.6 and slowed to 0.5/s, the next call goes at 2.6 (the bucket is
    empty then), not at the slot the old pace had left at 1.0."""
    clock = ManualClock()
    limiter = RateLimiter(2.0, clock=clock)
    await limiter.acquire()
    await limiter.acquire()  # 0.5
    clock.advance(0.1)
    limiter.slow_down(0.5)
    await limiter.acquire()
    assert clock.monotonic() == pytest.approx(2.6)


def test_waiters_on_slots_of_the_old_pace_reserve_again() -> None:
    """Three chains reserved 0, 0.5 and 1.0 at 2/s; slowed to 1/s at 0.1, the two still
    asleep go at 1.1 and 2.1: none of them at the old pace into the empty bucket."""
    times: list[float] = []

    async def main(clock: VirtualClock) -> None:
        limiter = RateLimiter(2.0, clock=clock)

        async def call() -> None:
            await limiter.acquire()
            times.append(clock.now)

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(call)
            await clock.sleep(0.1)
            limiter.slow_down(1.0)

    run_virtual(main)
    assert times == pytest.approx([0.0, 1.1, 2.1])


@pytest.mark.anyio
async def test_space_after_holds_the_next_slot_an_interval_past_the_moment() -> None:
    """The pair's first answer came at 0.3: its second call goes at 0.8, not 0.5."""
    clock = ManualClock()
    limiter = RateLimiter(2.0, clock=clock)
    await limiter.acquire()
    limiter.space_after(0.3)
    await limiter.acquire()
    assert clock.monotonic() == pytest.approx(0.8)
