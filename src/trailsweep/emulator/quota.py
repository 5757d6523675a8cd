"""The per-(account, region) LookupEvents quota and the counters tests read.

A token bucket per pair (rate and burst from `Faults`); "another caller" takes its share
of the refill, so our client sees `rate * (1 - other_caller_share)`. Counters record what
each pair received, including the most calls accepted in any one-second window.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from trailsweep.emulator.settings import Faults


@dataclass(slots=True)
class PairStats:
    calls: int = 0
    throttled: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    events: int = 0
    pages: int = 0
    max_per_second: int = 0  # most calls accepted within any 1-second window
    in_flight: int = 0  # admitted calls waiting out their added latency
    max_in_flight: int = 0  # the most at once: how many NextToken chains the client ran
    first_call: float | None = None
    last_call: float | None = None
    _recent: deque[float] = field(default_factory=deque)

    def accepted(self, now: float) -> None:
        recent = self._recent
        recent.append(now)
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        self.max_per_second = max(self.max_per_second, len(recent))

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "throttled": self.throttled,
            "errors": dict(self.errors),
            "events": self.events,
            "pages": self.pages,
            "max_per_second": self.max_per_second,
            "max_in_flight": self.max_in_flight,
            "first_call": self.first_call,
            "last_call": self.last_call,
        }


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class Quota:
    """Token buckets and counters for every pair that was called."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self.stats: dict[tuple[str, str], PairStats] = {}

    def pair(self, account: str, region: str) -> PairStats:
        key = (account, region)
        stats = self.stats.get(key)
        if stats is None:
            stats = self.stats[key] = PairStats()
        return stats

    def admit(self, account: str, region: str, now: float) -> bool:
        """Count a call; False if the pair is over its quota (the call is throttled)."""
        f = self.faults
        stats = self.pair(account, region)
        stats.calls += 1
        stats.first_call = now if stats.first_call is None else stats.first_call
        stats.last_call = now
        bucket = self._buckets.get((account, region))
        if bucket is None:
            bucket = self._buckets[(account, region)] = _Bucket(f.burst, now)
        refill = f.rate * max(0.0, 1.0 - f.other_caller_share)
        bucket.tokens = min(f.burst, bucket.tokens + (now - bucket.stamp) * refill)
        bucket.stamp = now
        if bucket.tokens < 1.0:
            stats.throttled += 1
            return False
        bucket.tokens -= 1.0
        stats.accepted(now)
        return True

    def reset(self) -> None:
        self.stats.clear()
        self._buckets.clear()

    def as_dict(self) -> dict[str, Any]:
        pairs = {f"{a}/{r}": s.as_dict() for (a, r), s in sorted(self.stats.items())}
        totals = {
            "calls": sum(s.calls for s in self.stats.values()),
            "throttled": sum(s.throttled for s in self.stats.values()),
            "events": sum(s.events for s in self.stats.values()),
            "errors": sum(sum(s.errors.values()) for s in self.stats.values()),
        }
        return {"pairs": pairs, "totals": totals}
