"""One incremental run's bookkeeping: each pair's window from the state (output/state.py),
what the run writes near its end, and the state it leaves.

    inc = Increment(state, lookback=1200)
    report.increment = inc          # the sweep calls inc.begin(pairs, query) and
    ... run the sink ...            # inc.written(chunk) for every chunk written
    new_state = inc.commit()        # saved once the output is durable

Memory stays bounded by the look-back: of what a run writes, only the EventIds of its
last `lookback` seconds are kept (a finished pair's next window starts there), and a pair
that does not finish records the rest as one span of seconds written whole, down to the
oldest second it reached (the pair's cursor holds that second's EventIds).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from trailsweep.engine.pair import PairState, SweepEvent
from trailsweep.output.state import Mark, State
from trailsweep.settings.query import Query
from trailsweep.settings.timeparse import to_epoch


@dataclass(slots=True)
class Lateness:
    """Events a run wrote that were older than their pair's previous mark: they arrived
    after the run before it looked, and the look-back caught them. `most`: how late the
    latest of them was at least (the previous mark minus its EventTime), in seconds."""

    caught: int = 0
    most: int = 0

    def add(self, late_by: int) -> None:
        self.caught += 1
        self.most = max(self.most, late_by)


@dataclass(slots=True)
class Increment:
    """The run between `state` and the state it commits (see the module's docstring)."""

    state: State
    lookback: int
    start: int = 0  # the run's pinned window, epoch seconds
    end: int = 0
    added: list[str] = field(default_factory=list)  # pairs the state did not know
    removed: list[str] = field(default_factory=list)  # pairs it knew, not in this matrix
    late: Lateness = field(default_factory=Lateness)
    pairs: list[PairState] = field(default_factory=list)
    _near: dict[str, dict[str, int]] = field(default_factory=dict)
    _windows: dict[str, int] = field(default_factory=dict)

    def window_start(self, mark: Mark | None) -> int:
        """Where a pair's window starts: the look-back before its mark, never before the
        EventIds known (`since`); a pair never completed starts where it first did."""
        if mark is None:
            return self.start
        if mark.end is None:
            return self.start if mark.start is None else mark.start
        since = mark.end - self.lookback
        return since if mark.since is None else max(since, mark.since)

    def begin(self, pairs: list[PairState], query: Query) -> None:
        """Give each pair its window and what to skip in it (engine.sweep calls this once
        the matrix is known, before any call)."""
        self.start, self.end = to_epoch(query.start), to_epoch(query.end)
        self.pairs = pairs
        marks = self.state.marks
        present = {p.name for p in pairs}
        unlisted = {p.account for p in pairs if p.region == "*"}  # its regions unknown
        self.removed = sorted(
            n for n in marks if n not in present and n.split("/")[0] not in unlisted
        )
        for pair in pairs:
            if pair.region == "*":
                continue
            mark = marks.get(pair.name)
            if mark is None:
                self.added.append(pair.name)
            start = self._windows[pair.name] = min(self.window_start(mark), self.end)
            pair.since = start
            if mark is not None:
                pair.seen = frozenset(i for i, t in mark.ids.items() if t >= start)
                pair.spans = tuple(s for s in mark.spans if s[1] > start)

    def written(self, chunk: Sequence[SweepEvent]) -> None:
        """Keep the EventIds of the run's last `lookback` seconds; count late arrivals."""
        near = self.end - self.lookback
        marks = self.state.marks
        for event in chunk:
            when = -event.key[0]
            self._seen(event.pair.name, str(event.event.get("EventId", "")), when, near)
            mark = marks.get(event.pair.name)
            if mark is not None and mark.end is not None and when <= mark.end:
                self.late.add(mark.end - when)

    def _seen(self, name: str, event_id: str, when: int, near: int) -> None:
        if when >= near:
            self._near.setdefault(name, {})[event_id] = when

    def near(self) -> dict[str, dict[str, int]]:
        """The EventIds kept so far (pair -> EventId -> EventTime): what a run into parts
        saves in the state at each part, so that a resumed run has them back."""
        return {name: dict(ids) for name, ids in self._near.items()}

    def restore(self, near: dict[str, dict[str, int]]) -> None:
        """`near()` of a killed run of the same window, read back from the state."""
        for name, ids in near.items():
            self._near.setdefault(name, {}).update({str(i): int(t) for i, t in ids.items()})

    def recover(self, lines: Iterable[bytes], end: int) -> None:
        """What a killed run of the window ending at `end` wrote before (its output's
        lines): read back as `written` would have seen it (account, region, EventTime,
        EventId)."""
        near = end - self.lookback
        for line in lines:
            item: dict[str, Any] = orjson.loads(line)
            when = calendar.timegm(time.strptime(str(item["EventTime"]), "%Y-%m-%dT%H:%M:%SZ"))
            name = f"{item['account']}/{item['region']}"
            self._seen(name, str(item.get("EventId", "")), when, near)

    def commit(self) -> State:
        """The state after this run: finished pairs marked at the run's end; the others
        keep their mark and add what they wrote."""
        old = self.state
        marks = dict(old.marks)
        for pair in self.pairs:
            if pair.region != "*":
                marks[pair.name] = self._mark(pair, old.marks.get(pair.name))
        return State(
            spec=old.spec, lookback=self.lookback, marks=marks, runs=old.runs + 1,
            end=self.end, pending=None, last_part=old.last_part,
        )  # fmt: skip

    def _mark(self, pair: PairState, mark: Mark | None) -> Mark:
        start = self._windows.get(pair.name, self.start)
        near = self._near.get(pair.name, {})
        if pair.state == "done" and pair.finished:
            since = max(self.end - self.lookback, start)
            ids = {i: t for i, t in (mark.ids if mark else {}).items() if t >= since}
            ids.update({i: t for i, t in near.items() if t >= since})
            return Mark(end=self.end, since=since, ids=ids)
        kept = Mark(start=start) if mark is None else Mark(
            end=mark.end, since=mark.since, start=mark.start, ids=dict(mark.ids),
            spans=[s for s in mark.spans if s[1] > start],
        )  # fmt: skip
        kept.ids.update(near)
        oldest = pair.cursor.oldest
        if oldest is not None and pair.cursor.written:
            kept.ids.update(dict.fromkeys(pair.cursor.ids, oldest))
            top = self.end - self.lookback
            if oldest + 1 < top:
                kept.spans.append((oldest, top))
        return kept

    def as_dict(self) -> dict[str, Any]:
        """What the summary (and --summary-json) says of the run."""
        return {
            "lookback": self.lookback,
            "since_run": self.state.runs,
            "pairs_added": self.added,
            "pairs_removed": self.removed,
            "late_caught": self.late.caught,
            "late_most_seconds": self.late.most,
        }
