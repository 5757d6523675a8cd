"""Adaptive pace for one pair: the quota is shared with whoever else calls LookupEvents in
that account and region, and the only signal is ThrottlingException.

CUBIC-style, counted in calls rather than seconds so it behaves the same at any quota:
on a throttle, take `w` = 0.9 x the rate that was too fast and drop to `beta * w`; on
each success, climb back along a cubic that is flat near `w` (few throttles while
sharing) and steep beyond it (quick recovery once the other caller stops), capped at
the quota.

Tuned by simulating the emulator's bucket (2 tokens, refilled at the pair's share):
with beta 0.7, K = 60 calls and the 0.9 plateau, a pair sharing half its quota sees 7
throttles in its first 500 calls (1.4%, adaptation included; 1.2% in steady state) and
climbs from half to 95% of the quota in about 90 calls once the other caller stops.
Plateauing at the throttled rate itself (plain CUBIC) gave 3%.
"""

from __future__ import annotations

from trailsweep.limiter import RateLimiter


class AdaptiveRate:
    __slots__ = (
        "_c", "beta", "calls_since", "k", "limiter", "max_rate", "min_rate", "plateau", "w",
    )  # fmt: skip

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        beta: float = 0.7,
        k: float = 60.0,
        plateau: float = 0.9,
        min_fraction: float = 0.05,
    ) -> None:
        self.limiter = limiter
        self.max_rate = limiter.rate
        self.min_rate = self.max_rate * min_fraction
        self.beta = beta
        self.k = k
        self.plateau = plateau
        self.w = self.max_rate
        self.calls_since = 0
        self._c = 0.0  # cubic coefficient: w(1 - beta) / K^3, set on the first throttle

    @property
    def rate(self) -> float:
        return self.limiter.rate

    def on_throttle(self) -> None:
        """Multiplicative decrease from the rate that was too fast."""
        self.w = self.limiter.rate * self.plateau
        self._c = self.w * (1.0 - self.beta) / self.k**3
        self.calls_since = 0
        self.limiter.set_rate(max(self.min_rate, self.beta * self.w))

    def on_success(self) -> None:
        """Climb back along the cubic."""
        if self.limiter.rate >= self.max_rate:
            return
        self.calls_since += 1
        target = self.w + self._c * (self.calls_since - self.k) ** 3
        self.limiter.set_rate(min(self.max_rate, max(self.min_rate, target)))
