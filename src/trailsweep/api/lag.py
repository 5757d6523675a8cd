"""How late events reach a follower: for every event first seen on a poll after the one
that began its pair, the poll's time minus its EventTime.

That is the delivery lag plus the wait for the next poll (up to --poll-interval): what a
reader downstream sees. Kept in buckets, so memory stays the same over days: seconds up
to 15 minutes, then minutes up to 4 hours; p50 and p99 are read from them (to the
second below 15 minutes), `most` is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_FINE = 900  # one bucket per second up to here
_COARSE = 4 * 3600  # then one per minute up to here; the last bucket holds the rest


def _bucket(seconds: int) -> int:
    if seconds < _FINE:
        return max(0, seconds)
    return _FINE + (min(seconds, _COARSE) - _FINE) // 60


def _seconds(bucket: int) -> int:
    return bucket if bucket < _FINE else _FINE + (bucket - _FINE) * 60


_BUCKETS = _bucket(_COARSE) + 1


@dataclass(slots=True)
class LagStats:
    """Counts of lags in buckets, with the largest seen."""

    count: int = 0
    most: int = 0
    counts: dict[int, int] = field(default_factory=dict)

    def add(self, seconds: int) -> None:
        b = _bucket(seconds)
        self.counts[b] = self.counts.get(b, 0) + 1
        self.count += 1
        self.most = max(self.most, seconds)

    def quantile(self, q: float) -> int | None:
        """The lag `q` of the events were seen within (None: none seen)."""
        if not self.count:
            return None
        rank, total = q * self.count, 0
        for b in sorted(self.counts):
            total += self.counts[b]
            if total >= rank:
                return min(_seconds(b), self.most)
        return self.most

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.count,
            "p50_seconds": self.quantile(0.5),
            "p99_seconds": self.quantile(0.99),
            "max_seconds": self.most if self.count else None,
        }


def span(seconds: int | None) -> str:
    """12m05s, 40s; '-' for nothing measured."""
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
