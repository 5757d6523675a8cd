"""The ground truth: what a complete LookupEvents query returns, for tests to compare with.

Three questions, one rule (`History.events`, the same LookupEvents answers with):

- as visible now (the default): exactly what a complete query returns at the data
  clock's now;
- as visible at T (`as_of=T`): what it returns once the data clock reads T, with the lag
  settings of the moment (T may be ahead of the clock: events are a pure function of
  their hour, so the answer then is what the clock will show when it gets there);
- everything (`everything=True`): every event that has happened by then (EventTime <=
  T), arrived or not.

and when each event arrives (`arrivals`: EventId -> epoch seconds, EventTime + its
delay under the lag settings of the moment, lag.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from trailsweep.emulator.event import Event
from trailsweep.emulator.history import History
from trailsweep.emulator.settings import EmulatorSettings, Faults
from trailsweep.emulator.world import World


@dataclass(frozen=True, slots=True)
class TruthQuery:
    """One ground-truth question (see the module's docstring); times in epoch seconds,
    `start` and `end` both included, None: the retention window's ends."""

    account: str
    region: str
    start: int | None = None
    end: int | None = None
    attribute: tuple[str, str] | None = None
    insight: bool = False
    as_of: int | None = None
    everything: bool = False


class GroundTruth:
    """Answers `TruthQuery`s over one emulator's world, history and faults."""

    def __init__(
        self, settings: EmulatorSettings, world: World, history: History, faults: Faults
    ) -> None:
        self.settings = settings
        self.world = world
        self.history = history
        self.faults = faults

    def events(self, q: TruthQuery, data_now: int) -> list[Event]:
        """The events that answer `q`, newest first, with the data clock at `data_now`."""
        if not self.world.region_enabled(q.account, q.region) or q.account not in self.world.by_id:
            return []
        at = data_now if q.as_of is None else q.as_of
        oldest = at - self.settings.retention_days * 86400
        lo = oldest if q.start is None else max(q.start, oldest)
        hi = at if q.end is None else min(q.end, at)
        if lo > hi:
            return []
        arrived_by = None if q.everything else at
        found = self.history.events(
            q.account, q.region, start=lo, end=hi, insight=q.insight, attribute=q.attribute,
            arrived_by=arrived_by, lag=self.faults.lag(),
        )  # fmt: skip
        return list(found)

    def rendered(self, q: TruthQuery, events: list[Event]) -> list[dict[str, Any]]:
        """Each event as LookupEvents returns it (EventTime in epoch seconds)."""
        return [orjson.loads(self.history.rendered(q.account, q.region, e)) for e in events]

    def arrivals(self, events: list[Event]) -> list[int]:
        """When each event arrives, epoch seconds, under the lag settings of the moment."""
        lag = self.faults.lag()
        return [lag.arrival(e.time, e.lag_draw) for e in events]
