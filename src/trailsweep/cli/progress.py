"""Live progress on stderr (only on a terminal unless forced) and the numbers behind it.

Two lines, drawn by rich's `Progress` and fitted to the terminal's width:

    window ━━━━━━━━━━━━━━━━━━━━━━━━━━━╺━━━━━━━━━━━━━━━━  62% 37/80 pairs ETA 0:00:12
    12,345 events, 1,234/s · calls 30.1/s of 36.0/s quota · 3 throttled

- Until the matrix is known the first line says "resolving accounts and regions…".
- The bar is the share of the window covered (`engine.pair.window_coverage`, as
  `trailsweep status` shows it).
- calls/s is measured over the last few seconds (`RateWindow`) so that, with every call
  passing its pair's limiter, it cannot read above the quota beside it.
- The ETA follows the slowest pair's coverage rate (`Eta`) and counts down steadily.
- The last frame, drawn when the sweep ends, says "done" (or "interrupted") with the real
  elapsed time, and no ETA.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from operator import attrgetter
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskProgressColumn, TextColumn
from rich.table import Column
from rich.text import Text

from trailsweep.api.coverage import coverage, window_coverage
from trailsweep.base.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from trailsweep import SweepReport
    from trailsweep.settings.query import Query

REFRESH = 0.25  # seconds between frames (`show_progress(interval=...)`)
# Overrides REFRESH from the CLI (tests, benchmarks). A value that is not a number from
# 0.01 to 10 is ignored: it only changes how often the display redraws, nothing to stop for.
REFRESH_ENV = "TRAILSWEEP_PROGRESS_INTERVAL"
RESOLVING = "resolving accounts and regions…"


def refresh_interval(env: Mapping[str, str]) -> float:
    """Seconds between frames: REFRESH, or `env`'s REFRESH_ENV when it is a sensible number."""
    try:
        value = float(env.get(REFRESH_ENV, REFRESH))
    except ValueError:
        return REFRESH
    return value if 0.01 <= value <= 10 else REFRESH


@dataclass(frozen=True, slots=True)
class Sample:
    """What `RateWindow` keeps of one moment: each pair's calls, calls/s allowed and
    whether it is running; the events written."""

    t: float
    calls: tuple[int, ...]
    rates: tuple[float, ...]
    running: tuple[bool, ...]
    events: int


class RateWindow:
    """Calls/s and events/s over the last few seconds of samples.

    Every call passes its pair's limiter (`pager.Pager.call` counts a call as `acquire`
    returns), whose burst is one call: any n + 1 calls of a pair span at least n / rate
    seconds. So a pair whose calls went from c0 at sample time t0 (the last sample before
    its first call in its window) to c1 at t1 (the first after its last) called at
    (c1 - c0 - 1) / (t1 - t0) calls/s, which cannot exceed its rate; a burst at the start
    (every pair's first call at once) counts for nothing. The one call left out matters
    less the more calls the window holds, so each pair's window is `span` seconds or
    `intervals` of its limiter's intervals, the longer (at most `longest` seconds).
    calls/s is the sum over the pairs that called in their window; the quota beside it is
    the sum of the rates of those pairs and of the pairs running now (the highest each had
    in its window: adaptive throttling lowers it): the quota in force, used or not.
    Nothing is shown until `least` seconds of samples are at hand."""

    __slots__ = ("intervals", "least", "longest", "samples", "span")

    def __init__(
        self, span: float = 5.0, least: float = 1.0, intervals: float = 8.0, longest: float = 60.0
    ) -> None:
        self.span, self.least, self.intervals, self.longest = span, least, intervals, longest
        self.samples: deque[Sample] = deque()

    def add(self, sample: Sample) -> None:
        if self.samples and len(self.samples[-1].calls) != len(sample.calls):
            self.samples.clear()  # a new matrix: what was measured is about other pairs
        self.samples.append(sample)
        while len(self.samples) > 2 and self.samples[1].t <= sample.t - self.longest:
            self.samples.popleft()

    @property
    def length(self) -> float:
        return self.samples[-1].t - self.samples[0].t if self.samples else 0.0

    def events_per_s(self) -> float | None:
        if self.length < self.least:
            return None
        s = list(self.samples)
        first = s[max(0, bisect_right(s, s[-1].t - self.span, key=attrgetter("t")) - 1)]
        return (s[-1].events - first.events) / (s[-1].t - first.t)

    def calls_per_s(self) -> tuple[float, float] | None:
        """(calls/s, quota/s) of the pairs that called in their window, or None: too short."""
        if self.length < self.least:
            return None
        s = list(self.samples)
        now, calls, quota = s[-1].t, 0.0, 0.0
        for p in range(len(s[0].calls)):
            rate = s[-1].rates[p]
            span = min(self.longest, max(self.span, self.intervals / rate if rate else 0.0))
            a = max(0, bisect_right(s, now - span, key=attrgetter("t")) - 1)

            def count(x: Sample, p: int = p) -> int:
                return x.calls[p]

            moved = bisect_right(s, s[a].calls[p], lo=a, key=count)  # first call after s[a]
            if moved < len(s):
                last = bisect_left(s, s[-1].calls[p], lo=moved, key=count)  # after the last
                seen = s[last].calls[p] - s[moved - 1].calls[p]
                calls += (seen - 1) / (s[last].t - s[moved - 1].t)
                quota += max(x.rates[p] for x in islice(s, moved - 1, None))
            elif s[-1].running[p]:
                quota += max(x.rates[p] for x in islice(s, a, None))
        return calls, quota


class Eta:
    """Seconds to go, from the slowest pair's coverage rate.

    Each unfinished pair's rate is the coverage it gained since `begin` over the time
    until its coverage last moved; it ends that much later (its rate over what it has left,
    counted from that last move), and the sweep ends with the last of them. There is no
    ETA until every unfinished pair has moved, or for `patience` seconds after the first
    one did: then pairs that have not moved yet are left out (in an ordered sweep, a pair
    whose first events are older than the others' moves only once the merge gets there,
    and then as far as they have). The finish time shown only moves earlier, so the ETA
    counts down steadily; a later estimate replaces it only when later by more than
    `slack` seconds or a quarter of what is left: the sweep has clearly slowed down.
    Estimates move in steps as pages are written, and the next step can come a little
    late; a shown ETA that went up and down with each would say nothing."""

    __slots__ = ("_base", "_first", "_shown", "_steps", "_t0", "patience", "slack")

    def __init__(self, slack: float = 2.0, patience: float = 5.0) -> None:
        self.slack, self.patience = slack, patience
        self._first: float | None = None  # when the first pair moved
        self._t0 = 0.0
        self._base: list[float] = []
        self._steps: list[tuple[float, float]] = []  # (when it last moved, coverage then)
        self._shown: float | None = None

    def begin(self, t0: float, coverages: Sequence[float | None]) -> None:
        """Start measuring from `t0` (at or before the pairs' first calls)."""
        self._t0 = t0
        self._base = [c or 0.0 for c in coverages]
        self._steps = [(t0, c or 0.0) for c in coverages]
        self._shown = self._first = None

    def update(self, now: float, coverages: Sequence[float | None]) -> float | None:
        """The ETA at `now`, given each pair's coverage (None: the pair is finished)."""
        finish: float | None = None
        waiting = False  # an unfinished pair has not moved yet
        for i, c in enumerate(coverages):
            if c is None:
                continue
            moved, before = self._steps[i]
            if c != before:
                self._steps[i], moved = (now, c), now
            gained = c - self._base[i]
            if gained <= 0 or moved <= self._t0:
                waiting = True
                continue
            end = moved + (1.0 - c) * (moved - self._t0) / gained
            finish = end if finish is None else max(finish, end)
        if finish is not None and self._first is None:
            self._first = now
        shown = self._shown
        if (
            shown is None
            and waiting
            and self._first is not None
            and now - self._first < self.patience
        ):
            return None
        if finish is not None and (
            shown is None or finish < shown or finish - shown > max(self.slack, (finish - now) / 4)
        ):
            self._shown = shown = finish
        return None if shown is None else max(0.0, shown - now)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One frame's numbers. `pairs` is None until the matrix is known."""

    pairs: int | None
    done: int = 0
    failed: int = 0
    events: int = 0
    covered: float = 0.0
    events_per_s: float | None = None
    calls: tuple[float, float] | None = None  # (calls/s, quota/s)
    throttled: int = 0
    eta_s: float | None = None
    elapsed: float = 0.0
    ended: str | None = None  # "done", "interrupted", "stopped": the last frame


class Meter:
    """Reads a running sweep's report into `Snapshot`s, one per frame."""

    def __init__(
        self, report: SweepReport, query: Query, *, clock: Clock = SYSTEM_CLOCK,
        window: RateWindow | None = None, eta: Eta | None = None,
    ) -> None:  # fmt: skip
        self.report, self.clock = report, clock
        self.start, self.end = query.start.timestamp(), query.end.timestamp()
        self.window = window or RateWindow()
        self.eta = eta or Eta()
        self._unknown_at = report.started  # the last time the pairs were not known yet
        self._known = False

    def read(self, *, last: bool = False) -> Snapshot:
        report, now = self.report, self.clock.monotonic()
        pairs = report.pairs
        ended = None
        if last:
            ended = (
                "interrupted" if report.interrupted else "done" if report.finished else "stopped"
            )
        elapsed = (report.finished or now) - report.started
        if not pairs:  # not known yet, or none to sweep (no region enabled anywhere)
            self._unknown_at = now
            known = report.finished is not None
            return Snapshot(pairs=0 if known else None, covered=1.0, elapsed=elapsed, ended=ended)
        covered = [coverage(p, self.start, self.end) for p in pairs]
        open_ = [None if p.finished else c for p, c in zip(pairs, covered, strict=True)]
        if not self._known:
            self._known = True
            self.eta.begin(self._unknown_at, open_)
        events = sum(p.cursor.written for p in pairs)
        running = tuple(p.state == "running" for p in pairs)
        rates = tuple(p.rate for p in pairs)
        self.window.add(Sample(now, tuple(p.calls for p in pairs), rates, running, events))
        return Snapshot(
            pairs=len(pairs),
            done=sum(p.state == "done" and p.finished for p in pairs),
            failed=sum(p.state == "failed" for p in pairs),
            events=events,
            covered=window_coverage(pairs, self.start, self.end),
            events_per_s=events / max(1e-6, elapsed) if last else self.window.events_per_s(),
            calls=None if last else self.window.calls_per_s(),
            throttled=sum(p.throttled for p in pairs),
            eta_s=None if last else self.eta.update(now, open_),
            elapsed=elapsed,
            ended=ended,
        )


def _clock_text(seconds: float) -> str:
    """H:MM:SS, rounded up: an ETA says 0:00:00 only once it is due."""
    return str(timedelta(seconds=math.ceil(max(0.0, seconds))))


def _snap(task: Task) -> Snapshot:
    snap = task.fields["snap"]
    assert isinstance(snap, Snapshot)
    return snap


class PairsColumn(ProgressColumn):
    """Pairs done of all, once the matrix is known: "37/80 pairs"."""

    def render(self, task: Task) -> Text:
        s = _snap(task)
        if s.pairs is None:
            return Text("")
        return Text(f"{s.done}/{s.pairs} pairs" if s.pairs else "no pairs")


class EtaColumn(ProgressColumn):
    """The ETA while the sweep runs ("ETA 0:00:12", -:--:-- until known); at the end, the
    real elapsed time ("in 0:00:42")."""

    def render(self, task: Task) -> Text:
        s = _snap(task)
        if s.ended is not None:
            return Text(f"in {_clock_text(s.elapsed)}")
        if s.pairs is None:
            return Text("")
        return Text("ETA " + ("-:--:--" if s.eta_s is None else _clock_text(s.eta_s)))


class Items:
    """Short items joined by " · ", broken between items (never inside one) to fit."""

    def __init__(self, items: Iterable[str]) -> None:
        self.items = list(items)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        line = ""
        for item in self.items:
            item = item[: options.max_width]
            if line and len(line) + 3 + len(item) > options.max_width:
                yield Text(line)
                line = item
            else:
                line = f"{line} · {item}" if line else item
        yield Text(line)


def stats_items(s: Snapshot) -> list[str]:
    """The second line: events, calls/s against the quota, throttles, failures."""
    if s.pairs is None:
        return []
    rate = "--" if s.events_per_s is None else f"{s.events_per_s:,.0f}"
    items = [f"{s.events:,} events, {rate}/s"]
    if s.ended is None:
        calls = "--" if s.calls is None else f"{s.calls[0]:.1f}"
        quota = "--" if s.calls is None else f"{s.calls[1]:.1f}"
        items.append(f"calls {calls}/s of {quota}/s quota")
    items.append(f"{s.throttled:,} throttled")
    if s.failed:
        items.append(f"{s.failed:,} failed")
    return items


class SweepProgress(Progress):
    """rich's Progress with one task, the window, and a line of numbers below it."""

    def __init__(self, console: Console, clock: Clock) -> None:
        super().__init__(
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=None, table_column=Column(ratio=1, no_wrap=True)),
            TaskProgressColumn(table_column=Column(no_wrap=True)),
            PairsColumn(table_column=Column(no_wrap=True)),
            EtaColumn(table_column=Column(no_wrap=True)),
            console=console, auto_refresh=False, redirect_stdout=False, expand=True,
            get_time=clock.monotonic,
        )  # fmt: skip
        self.task = self.add_task(RESOLVING, start=False, total=None, snap=Snapshot(pairs=None))

    def show(self, s: Snapshot) -> None:
        """Put `s` on the task (drawn at the next refresh)."""
        if s.pairs is None:
            self.update(self.task, description=s.ended or RESOLVING, snap=s)
            return
        if not self._tasks[self.task].started:
            self.start_task(self.task)
        self.update(self.task, description=s.ended or "window", total=1.0, completed=s.covered,
                    snap=s)  # fmt: skip

    def get_renderables(self) -> Iterable[RenderableType]:
        tasks = self.tasks  # none yet while Progress.__init__ sets up its Live
        yield self.make_tasks_table(tasks)
        if tasks and _snap(tasks[0]).pairs is not None:
            yield Items(stats_items(_snap(tasks[0])))


async def show_progress(
    report: SweepReport, query: Query, *, force: bool, interval: float = REFRESH,
    clock: Clock = SYSTEM_CLOCK, console: Console | None = None,
) -> None:  # fmt: skip
    """Redraw every `interval` seconds until cancelled; then draw the last frame."""
    console = console or Console(stderr=True, force_terminal=force or None)
    meter = Meter(report, query, clock=clock)
    progress = SweepProgress(console, clock)
    progress.show(meter.read())
    progress.start()
    try:
        while True:
            await clock.sleep(interval)
            progress.show(meter.read())
            progress.refresh()
    finally:
        progress.show(meter.read(last=True))
        progress.stop()
