"""A pair: one (account, region) of the matrix, its progress, and the events it yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from trailsweep.record import ndjson_line

State = Literal["pending", "running", "done", "failed"]


@dataclass(slots=True)
class PairState:
    """What the summary and progress show about one pair."""

    account: str
    region: str
    state: State = "pending"
    events: int = 0
    calls: int = 0
    throttled: int = 0
    retries: int = 0
    error: str | None = None
    oldest: int | None = None  # EventTime (epoch) of the oldest event yielded

    @property
    def name(self) -> str:
        return f"{self.account}/{self.region}"

    def fail(self, code: str, reason: str) -> None:
        self.state = "failed"
        self.error = f"{code}: {reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "state": self.state,
            "events": self.events,
            "calls": self.calls,
            "throttled": self.throttled,
            "retries": self.retries,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class SweepEvent:
    """One event of the sweep. `key` orders the merge: newest first, then account, region,
    then the order LookupEvents returned it in (DESIGN.md invariant 3)."""

    key: tuple[int, str, str, int]
    account: str
    region: str
    event: dict[str, Any] = field(repr=False)

    def line(self, *, raw: bool = False) -> bytes:
        return ndjson_line(self.account, self.region, self.event, raw=raw)
