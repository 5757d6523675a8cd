"""The per-pair limiter (GCRA) and its adaptive pace, on a clock the tests move."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailsweep.adaptive import AdaptiveRate
from trailsweep.clock import ManualClock
from trailsweep.limiter import RateLimiter


@pytest.mark.anyio
async def test_n_calls_at_two_per_second_take_n_minus_one_halves() -> None:
    """Ten acquisitions at 2/s with no burst end at t = 4.5 s, each 0.5 s apart."""
    clock = ManualClock()
    limiter = RateLimiter(2.0, clock=clock)
    times = []
    for _ in range(10):
        await limiter.acquire()
        times.append(clock.monotonic())
    assert times == [i * 0.5 for i in range(10)]
    assert limiter.acquired == 10


@pytest.mark.anyio
async def test_concurrent_callers_are_served_in_call_order() -> None:
    """Slots go to callers in the order they asked."""
    clock = ManualClock()
    limiter = RateLimiter(4.0, clock=clock)
    order: list[int] = []

    async def caller(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(caller, i)
    assert order == list(range(8))


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.5, 50.0),
    burst=st.integers(1, 5),
    gaps=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=40),
)
def test_no_window_ever_exceeds_burst_plus_rate_times_length(
    rate: float, burst: int, gaps: list[float]
) -> None:
    """Whatever the arrival pattern, any interval of length T holds at most burst + rate*T."""

    async def run() -> list[float]:
        clock = ManualClock()
        limiter = RateLimiter(rate, burst=burst, clock=clock)
        done = []
        for gap in gaps:
            clock.advance(gap)
            await limiter.acquire()
            done.append(clock.monotonic())
        return done

    done = anyio.run(run)
    for i in range(len(done)):
        for j in range(i, len(done)):
            span = done[j] - done[i]
            assert j - i + 1 <= burst + rate * span + 1e-6


@pytest.mark.anyio
async def test_set_rate_applies_to_later_reservations() -> None:
    """Halving the rate doubles the spacing of the calls that follow."""
    clock = ManualClock()
    limiter = RateLimiter(2.0, clock=clock)
    await limiter.acquire()
    limiter.set_rate(1.0)
    await limiter.acquire()
    await limiter.acquire()
    assert clock.monotonic() == pytest.approx(1.5)
    assert limiter.rate == 1.0


@pytest.mark.anyio
async def test_cancelled_waiter_gives_its_slot_back() -> None:
    """A waiter cancelled before its slot returns it, so the next caller is not delayed."""
    clock = ManualClock()
    limiter = RateLimiter(1.0, clock=clock)
    await limiter.acquire()  # t=0
    with anyio.move_on_after(0) as scope:  # cancelled at its first checkpoint
        scope.cancel()
        await limiter.acquire()
    assert scope.cancelled_caught
    await limiter.acquire()
    assert clock.monotonic() == pytest.approx(1.0)  # not 2.0


def test_bad_rate_is_refused() -> None:
    """A limiter needs a positive rate and a burst of at least one."""
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(1, burst=0.5)


def test_throttle_drops_and_successes_climb_back_to_the_quota() -> None:
    """A throttle at 2/s drops to 0.7 x 0.9 x 2; successes bring it back to 2, never above."""
    limiter = RateLimiter(2.0)
    pace = AdaptiveRate(limiter)
    pace.on_throttle()
    assert limiter.rate == pytest.approx(2.0 * 0.9 * 0.7)
    rates = []
    for _ in range(300):
        pace.on_success()
        rates.append(limiter.rate)
    assert rates == sorted(rates)
    assert rates[-1] == 2.0
    assert max(rates) <= 2.0


def test_repeated_throttles_never_go_below_the_floor() -> None:
    """However often it is throttled, the pace stays above 5% of the quota."""
    limiter = RateLimiter(2.0)
    pace = AdaptiveRate(limiter)
    for _ in range(100):
        pace.on_throttle()
    assert limiter.rate == pytest.approx(0.1)
