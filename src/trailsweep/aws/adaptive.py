"""Adaptive pace for one pair: the quota is shared with whoever else calls LookupEvents in
that account and region, and the only signal is ThrottlingException.

A pair starts at the full quota: nothing says the quota is shared until a throttle does,
so a pair cannot avoid its first throttle. What it does after that is what a user sees
when many short pairs share their quotas, and is done in two steps.

The first throttle says how much is left, roughly, by how soon it came. The service's
bucket is full when the pair starts (`burst` calls; the emulator's 2, `Faults.burst`);
calls accepted and answered at times d_0 .. d_{n-1} and the throttle answered at d_n
then bound the rate r left to us: (n - burst) / (d_{n-1} - d_0) <= r < (n + 1 - burst) /
(d_n - d_0). Answers, not sendings: what holds a call back before the server sees it
(connection setup, a busy event loop) varies, the short way back does not. The pace
drops to 0.9x the lower bound, at least `deep` (8%) of the rate throttled at: a throttle
after the first two calls bounds nothing from below, and 8% stays under the 10% a caller
taking 90% leaves, with a margin for timing. From there it climbs geometrically to 0.9x
the upper bound over `probe_calls` calls (from below: a short pair is done before it
crosses the line, a long one crosses it about once), then by `creep` a call, so a pair
finds the quota again once the other caller stops. When the bounds say no more than the
usual decrease (a throttle after a long run, say: the other caller came later), the pair
does the usual decrease instead. A bigger bucket than `burst` makes the bounds too high,
and the pair falls back to the usual decrease; a bucket not full at the start makes them
low, which only makes the pair slower than it could be for a while.

The price of not being throttled again: a pair throttled after two calls cannot tell a
caller taking 60% from one taking 90%, and climbs from under 10% of the quota; pairs of a
few pages with half their quota taken run at about 0.86 of what is left (README,
`benchmarks/shared_quota.py`). Probing faster costs a throttle a pair at 90% taken.

Every later throttle, CUBIC-style, counted in calls rather than seconds so it behaves the
same at any quota: take `w` = 0.9 x the rate that was too fast and drop to `beta * w`; on
each success, climb back along a cubic that is flat near `w` (few throttles while sharing)
and steep beyond it (quick recovery once the other caller stops), capped at the quota.
Tuned by simulating the emulator's bucket (2 tokens, refilled at the pair's share): with
beta 0.7, K = 60 calls and the 0.9 plateau, a pair sharing half its quota sees 1.2% of
its calls throttled in steady state; plateauing at the throttled rate itself gave 3%.

Only a throttle of a call sent at the current pace lowers it: the calls several NextToken
chains (slices.py) had in flight when the pace dropped were sent at the old pace, and
their throttles say nothing new (`RateLimiter.epoch`).
"""

from __future__ import annotations

import math

from trailsweep.aws.limiter import RateLimiter


class AdaptiveRate:
    __slots__ = (
        "_c", "accepted", "beta", "burst", "calls_since", "creep", "deep", "first_done",
        "growth", "k", "last_done", "limiter", "max_rate", "min_rate", "phase", "plateau",
        "probe_calls", "top", "w",
    )  # fmt: skip

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        beta: float = 0.7,
        k: float = 60.0,
        plateau: float = 0.9,
        min_fraction: float = 0.05,
        burst: float = 2.0,
        deep: float = 0.08,
        probe_calls: int = 20,
        creep: float = 0.02,
    ) -> None:
        self.limiter = limiter
        self.max_rate = limiter.rate
        self.min_rate = self.max_rate * min_fraction
        self.beta = beta
        self.k = k
        self.plateau = plateau
        self.burst = burst
        self.deep = deep
        self.probe_calls = probe_calls
        self.creep = creep
        # "full" until the first throttle, "probe" while climbing from the first drop to
        # the upper bound it found, "cubic" after any later throttle.
        self.phase = "full"
        self.accepted = 0  # calls accepted before the first throttle
        self.first_done = math.inf  # when the first and the last of them were answered
        self.last_done = -math.inf
        self.top = self.max_rate  # "probe": the upper bound (x 0.9) the climb aims at
        self.growth = 0.0  # "probe": the climb's factor per accepted call, less 1
        self.w = self.max_rate
        self.calls_since = 0
        self._c = 0.0  # cubic coefficient: w(1 - beta) / K^3, set on a throttle

    @property
    def rate(self) -> float:
        return self.limiter.rate

    def on_throttle(self, epoch: int | None = None, done: float | None = None) -> None:
        """Lower the pace, unless the throttled call was sent at an older, faster pace
        (`epoch`: `RateLimiter.epoch` when its `acquire` returned). `done`: when the
        throttle came back, on the clock of `on_success`."""
        if epoch is not None and epoch != self.limiter.epoch:
            return
        rate = self.limiter.rate
        if self.phase == "full" and self._first_drop(rate, done):
            return
        self.phase = "cubic"
        self.w = rate * self.plateau
        self._c = self.w * (1.0 - self.beta) / self.k**3
        self.calls_since = 0
        self.limiter.slow_down(max(self.min_rate, self.beta * self.w))

    def _first_drop(self, rate: float, done: float | None) -> bool:
        """Drop to what the first throttle's timing says is left (see the module doc);
        False when it says no more than the usual decrease."""
        n, b = self.accepted, self.burst
        low = 0.0
        if n > b and self.last_done > self.first_done:
            low = (n - b) / (self.last_done - self.first_done)
        new = max(self.min_rate, rate * self.deep, low * self.plateau)
        if new >= rate * self.plateau * self.beta:
            return False
        high = rate / 2  # no bound from above: as a throttle after two calls at `rate`
        if done is not None and n + 1 > b and done > self.first_done:
            high = (n + 1 - b) / (done - self.first_done)
        self.top = min(rate * self.plateau, max(new, high * self.plateau))
        self.growth = (self.top / new) ** (1.0 / self.probe_calls) - 1.0
        self.phase = "probe"
        self.calls_since = 0
        self.limiter.slow_down(new)
        return True

    def on_success(self, done: float | None = None) -> None:
        """Count the call (answered at `done`); climb back toward the quota."""
        if self.phase == "full":
            self.accepted += 1
            if done is not None:
                self.first_done = min(self.first_done, done)
                self.last_done = max(self.last_done, done)
            return
        rate = self.limiter.rate
        if rate >= self.max_rate:
            return
        self.calls_since += 1
        if self.phase == "probe":
            if self.calls_since <= self.probe_calls:
                target = min(self.top, rate * (1.0 + self.growth))
            else:
                target = rate * (1.0 + self.creep)
        else:
            target = self.w + self._c * (self.calls_since - self.k) ** 3
        self.limiter.set_rate(min(self.max_rate, max(self.min_rate, target)))
