"""The per-pair limiter (GCRA), on clocks the tests move (its adaptive pace: test_adaptive.py)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import Awaitable, Callable

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailsweep.aws.limiter import RateLimiter
from trailsweep.testing import ManualClock

EPS = 1e-9


class VirtualClock:
    """An autojump clock for concurrent tests: sleepers wait in a heap and, whenever every
    other task is blocked, `drive` moves time to the earliest deadline and wakes its
    sleepers, in the order they went to sleep. (`ManualClock` jumps inside each `sleep`, so
    concurrent sleepers add their waits up.)"""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._seq = 0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_790_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        wake = anyio.Event()
        self._seq += 1
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), self._seq, wake))
        await wake.wait()

    async def drive(self) -> None:
        while True:
            await _all_other_tasks_blocked()
            if not self._sleepers:
                raise RuntimeError("deadlock: every task waits and nobody sleeps")
            deadline = self._sleepers[0][0]
            self.now = max(self.now, deadline)
            while self._sleepers and self._sleepers[0][0] <= deadline:
                heapq.heappop(self._sleepers)[2].set()


async def _all_other_tasks_blocked() -> None:
    """Like `anyio.wait_all_tasks_blocked` without its 0.1 s real sleeps: every other task
    waits on a pending future and no callback is ready to run (asyncio only)."""
    me = asyncio.current_task()
    loop = asyncio.get_running_loop()
    while True:
        await anyio.lowlevel.checkpoint()
        if loop._ready:  # type: ignore[attr-defined]
            continue
        waiters = [t._fut_waiter for t in asyncio.all_tasks() if t is not me]  # type: ignore[attr-defined]
        if all(w is not None and not w.done() for w in waiters):
            return


def run_virtual(main: Callable[[VirtualClock], Awaitable[None]]) -> VirtualClock:
    """Run `main(clock)` on a fresh loop while `clock` jumps from deadline to deadline."""

    async def run() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(clock.drive)
            await main(clock)
            tg.cancel_scope.cancel()

    clock = VirtualClock()
    anyio.run(run)
    return clock


def assert_within_bound(times: list[float], rate: float, burst: float) -> None:
    """No interval of length T holds more than burst + rate * T completions."""
    times = sorted(times)
    for i in range(len(times)):
        for j in range(i, len(times)):
            assert j - i + 1 <= burst + rate * (times[j] - times[i]) + EPS, (i, j, times)


@pytest.mark.anyio
@pytest.mark.parametrize("n", [1, 2, 10])
async def test_n_calls_at_two_per_second_end_at_n_minus_one_halves(n: int) -> None:
    """N acquisitions at 2/s with no burst end at t = (N-1)/2, each 0.5 s apart."""
    clock = ManualClock()
    limiter = RateLimiter(2.0, clock=clock)
    times = []
    for _ in range(n):
        await limiter.acquire()
        times.append(clock.monotonic())
    assert times == [i * 0.5 for i in range(n)]
    assert limiter.acquired == n


@pytest.mark.anyio
async def test_a_burst_goes_at_once_then_the_rate_applies() -> None:
    """Burst 3 at 2/s: three calls at t=0, then one every 0.5 s."""
    clock = ManualClock()
    limiter = RateLimiter(2.0, burst=3, clock=clock)
    times = []
    for _ in range(6):
        async with limiter:
            times.append(clock.monotonic())
    assert times == [0.0, 0.0, 0.0, 0.5, 1.0, 1.5]
    assert limiter.acquired == 6


def test_concurrent_callers_are_served_in_call_order() -> None:
    """Eight callers at once: each gets the next slot in the order it asked."""
    served: list[tuple[int, float]] = []

    async def main(clock: VirtualClock) -> None:
        limiter = RateLimiter(4.0, clock=clock)

        async def caller(i: int) -> None:
            await limiter.acquire()
            served.append((i, clock.now))

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(caller, i)

    run_virtual(main)
    assert served == [(i, i * 0.25) for i in range(8)]


arrivals = st.lists(
    st.tuples(st.floats(0.0, 3.0), st.none() | st.floats(0.0, 2.0)), min_size=1, max_size=30
)


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.5, 50.0), burst=st.floats(1.0, 5.0), calls=arrivals)
def test_no_window_ever_exceeds_burst_plus_rate_times_length(
    rate: float, burst: float, calls: list[tuple[float, float | None]]
) -> None:
    """Concurrent callers arriving at random, some giving up (cancelled) after a while:
    any interval of length T holds at most burst + rate*T completions."""
    done: list[float] = []
    cancelled = 0

    async def main(clock: VirtualClock) -> None:
        limiter = RateLimiter(rate, burst, clock=clock)

        async def cancel_later(scope: anyio.CancelScope, after: float) -> None:
            await clock.sleep(after)
            scope.cancel()

        async def caller(arrive: float, patience: float | None) -> None:
            nonlocal cancelled
            await clock.sleep(arrive)
            with anyio.CancelScope() as scope:
                if patience is not None:
                    tg.start_soon(cancel_later, scope, patience)
                await limiter.acquire()
                done.append(clock.now)
            cancelled += scope.cancelled_caught

        async with anyio.create_task_group() as tg:
            for arrive, patience in calls:
                tg.start_soon(caller, arrive, patience)
        assert limiter.acquired == len(done)

    run_virtual(main)
    assert len(done) + cancelled == len(calls)
    assert_within_bound(done, rate, burst)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.5, 50.0),
    burst=st.floats(1.0, 5.0),
    gaps=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=30),
)
def test_nobody_waits_longer_than_the_rate_requires(
    rate: float, burst: float, gaps: list[float]
) -> None:
    """In call order, each caller is served no later than max(its arrival, the previous
    caller's slot + 1/rate), and never before an earlier caller."""
    calls: list[tuple[int, float]] = []
    served: dict[int, float] = {}

    async def main(clock: VirtualClock) -> None:
        limiter = RateLimiter(rate, burst, clock=clock)

        async def caller(i: int) -> None:
            calls.append((i, clock.now))
            await limiter.acquire()
            served[i] = clock.now

        async with anyio.create_task_group() as tg:
            for i, gap in enumerate(gaps):
                await clock.sleep(gap)
                tg.start_soon(caller, i)

    run_virtual(main)
    previous = -math.inf
    for i, arrived in calls:
        assert previous - EPS <= served[i] <= max(arrived, previous + 1 / rate) + EPS
        previous = served[i]
    assert_within_bound(list(served.values()), rate, burst)


@pytest.mark.anyio
async def test_set_rate_applies_to_later_reservations() -> None:
    """Halving the rate doubles the spacing of the calls reserved after the change."""
    clock = ManualClock()
    limiter = RateLimiter(2.0, clock=clock)
    await limiter.acquire()  # t=0, next slot at 0.5
    limiter.set_rate(1.0)
    await limiter.acquire()  # 0.5: reserved before at the old pace
    await limiter.acquire()  # 1.5
    assert clock.monotonic() == 1.5
    limiter.set_rate(1.26)
    assert limiter.rate == 1.26  # exactly what was set: AdaptiveRate compares it to the quota


@pytest.mark.anyio
async def test_raising_the_rate_does_not_shorten_the_current_wait() -> None:
    """The next slot was fixed at the old pace; only the ones after it speed up."""
    clock = ManualClock()
    limiter = RateLimiter(1.0, clock=clock)
    await limiter.acquire()  # t=0, next slot at 1
    limiter.set_rate(4.0)
    times = []
    for _ in range(3):
        await limiter.acquire()
        times.append(clock.monotonic())
    assert times == [1.0, 1.25, 1.5]


def test_cancelled_waiter_gives_its_slot_back() -> None:
    """A waiter cancelled before its slot, with nobody behind it, returns the slot."""
    times: list[float] = []

    async def main(clock: VirtualClock) -> None:
        limiter = RateLimiter(1.0, clock=clock)
        await limiter.acquire()  # t=0, next slot at 1
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(limiter.acquire)  # reserves slot 1
                await clock.sleep(0.5)
                scope.cancel()
        await clock.sleep(0.1)
        await limiter.acquire()
        times.append(clock.now)
        assert limiter.acquired == 2

    run_virtual(main)
    assert times == [1.0]  # not 2.0


def test_a_slot_cancelled_with_callers_behind_it_is_lost() -> None:
    """With a caller queued behind it, a cancelled waiter's slot is not reused: the callers
    behind keep their slots and later ones queue after them."""
    served: dict[str, float] = {}

    async def main(clock: VirtualClock) -> None:
        limiter = RateLimiter(1.0, clock=clock)

        async def caller(name: str, scope: anyio.CancelScope | None = None) -> None:
            with scope or anyio.CancelScope():
                await limiter.acquire()
                served[name] = clock.now

        await limiter.acquire()  # t=0
        b_scope = anyio.CancelScope()
        async with anyio.create_task_group() as tg:
            tg.start_soon(caller, "b", b_scope)  # slot 1
            await anyio.lowlevel.checkpoint()
            tg.start_soon(caller, "c")  # slot 2
            await clock.sleep(0.5)
            b_scope.cancel()
        await caller("d")
        assert limiter.acquired == 3

    run_virtual(main)
    assert served == {"c": 2.0, "d": 3.0}


@pytest.mark.anyio
async def test_acquire_is_a_checkpoint_even_without_a_wait() -> None:
    """Called in a cancelled scope, acquire raises and keeps nothing, even with a free slot."""
    clock = ManualClock()
    limiter = RateLimiter(1.0, clock=clock)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await limiter.acquire()
    assert scope.cancelled_caught
    assert limiter.acquired == 0
    await limiter.acquire()
    assert clock.monotonic() == 0.0


@pytest.mark.parametrize("rate", [0, -1, math.nan, math.inf])
def test_bad_rate_is_refused(rate: float) -> None:
    """A limiter needs a finite positive rate, at construction and on change."""
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(rate)
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(1).set_rate(rate)


@pytest.mark.parametrize("burst", [0, 0.5, math.nan, math.inf])
def test_bad_burst_is_refused(burst: float) -> None:
    """A burst below one call (or not a number) is refused."""
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(1, burst=burst)


def test_late_wakeups_still_go_out_spaced() -> None:
    """A busy event loop wakes every waiter whose slot has passed in the same tick: with
    burst 1 they still return about an interval apart, so the server sees no burst."""
    times: list[float] = []

    async def main(clock: VirtualClock) -> None:
        limiter = RateLimiter(2.0, clock=clock)

        async def call() -> None:
            await limiter.acquire()
            times.append(clock.now)

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(call)
            await clock.sleep(0.25)  # all four have reserved: slots 0, .5, 1, 1.5
            clock.now += 3.0  # the loop was busy for 3 s: every slot is in the past

    run_virtual(main)
    assert times[0] == 0.0
    gaps = [b - a for a, b in itertools.pairwise(times[1:])]
    assert times[1] == 3.25
    assert all(g >= 0.98 * 0.5 - EPS for g in gaps), times
