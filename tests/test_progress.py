"""The numbers behind the progress display, on an injected clock: how much of the window a
pair covered, calls/s against the quota (`RateWindow`), the ETA (`Eta`), the first and
last frames (`Meter`), and frames that fit narrow terminals."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime
from itertools import pairwise

import anyio
import pytest
from rich.console import Console

from trailsweep.aws.limiter import RateLimiter
from trailsweep.cli.progress import (
    Eta,
    Meter,
    RateWindow,
    Sample,
    Snapshot,
    SweepProgress,
    refresh_interval,
)
from trailsweep.cli.status import status_report
from trailsweep.engine.pair import PairState, State, coverage
from trailsweep.engine.sweep import SweepReport
from trailsweep.output.checkpoint import Checkpoint
from trailsweep.settings.query import Query
from trailsweep.settings.timeparse import format_time, from_epoch
from trailsweep.testing import ManualClock

START, END = 1_790_000_000, 1_790_086_400  # one day


def _pair(state: State = "running", oldest: int | None = None, written: int = 0) -> PairState:
    p = PairState("111111111111", "us-east-1")
    p.state = state
    p.cursor.oldest, p.cursor.written, p.events = oldest, written, written
    return p


def test_coverage_is_the_share_of_the_window_walked_back() -> None:
    """Pairs walk the window from its end: (end - oldest written) / length; done is all of
    it; a failed pair keeps what it reached; nothing written is none."""
    day = END - START
    assert coverage(_pair(oldest=None), START, END) == 0.0
    assert coverage(_pair(oldest=END - day // 4, written=5), START, END) == 0.25
    assert coverage(_pair("failed", oldest=END - day // 2, written=5), START, END) == 0.5
    assert coverage(_pair("done", oldest=END - 10, written=5), START, END) == 1.0
    assert coverage(_pair(oldest=START - 50, written=5), START, END) == 1.0


def test_status_shows_the_coverage_the_bar_shows() -> None:
    """`trailsweep status` and the progress bar compute the window's coverage one way: the
    pairs' unrounded coverage averaged. Averaging the percents rounded per pair would say
    0.1% here (0.3% and 0%), where 294 s of a day over 2 pairs is 0.17%."""
    pairs = [_pair(oldest=END - 294, written=1), _pair()]
    report = SweepReport(started=0.0)
    report.pairs = pairs
    bar = _meter(report, ManualClock()).read().covered
    query = {"start": format_time(from_epoch(START)), "end": format_time(from_epoch(END))}
    status = status_report(Checkpoint(spec={}, query=query, pairs=pairs))
    assert round(100 * bar, 1) == status["progress_percent"] == 0.2
    assert [p["reached_percent"] for p in status["pairs"]] == [0.3, 0.0]


def _limited_calls(rate: float, seed: int, until: float) -> tuple[list[float], float]:
    """When one pair's calls leave a real `RateLimiter` (on a manual clock): the first at
    once, each next after the previous answer (up to 3 intervals of latency); the rate
    drops by 30% at a random moment, as adaptive throttling does. Returns the call times
    and when the rate dropped."""
    rng = random.Random(seed)
    clock = ManualClock(start=rng.uniform(0.0, 0.05))
    limiter = RateLimiter(rate, clock=clock)
    drop = rng.uniform(until / 3, until)
    times: list[float] = []

    async def run() -> None:
        while clock.monotonic() < until:
            if clock.monotonic() >= drop and limiter.rate == rate:
                limiter.set_rate(rate * 0.7)
            await limiter.acquire()
            times.append(clock.monotonic())
            clock.advance(rng.uniform(0.0, 3.0 / rate))

    anyio.run(run)
    return times, drop


@pytest.mark.parametrize("rate", [0.45, 2.0])
def test_calls_per_s_never_reads_above_the_quota(rate: float) -> None:
    """80 pairs whose calls pass real limiters, sampled four times a second for 30 s: the
    first calls (all at once) never read as a breach, no sample shows calls/s above the
    quota beside it, and once the window is full it shows most of what was really used."""
    n, until = 80, 30.0
    runs = [_limited_calls(rate, seed, until) for seed in range(n)]
    pairs = [_pair() for _ in range(n)]
    window = RateWindow()
    seen = []
    for k in range(1, int(until * 4)):
        t = k / 4
        for p, (times, drop) in zip(pairs, runs, strict=True):
            p.calls = sum(1 for x in times if x <= t)
            p.rate = rate if t < drop else rate * 0.7
        window.add(_sample(t, pairs))
        shown = window.calls_per_s()
        if window.length < window.least:
            assert shown is None
            continue
        assert shown is not None
        calls, quota = shown
        assert calls <= quota + 1e-9, (t, calls, quota)
        assert quota <= n * rate + 1e-9
        seen.append((t, calls))
    # What was really used, over the same windows: most of it is shown.
    for t, calls in seen:
        if t < 20:
            continue
        real = 0.0
        for p, (times, _) in zip(pairs, runs, strict=True):
            span = max(window.span, window.intervals / p.rate)
            real += sum(1 for x in times if t - span < x <= t) / span
        assert calls >= 0.8 * real, (t, calls, real)


def _sample(t: float, pairs: list[PairState]) -> Sample:
    return Sample(
        t,
        tuple(p.calls for p in pairs),
        tuple(p.rate for p in pairs),
        tuple(p.state == "running" for p in pairs),
        sum(p.cursor.written for p in pairs),
    )


def _steps(
    rate: float, lag: float, page: float, until: float, late: float = 0.0, seed: int = 0
) -> list[tuple[float, float]]:
    """A pair's coverage over time as pages are written: nothing for `lag` seconds, then a
    step of `page` every page / rate seconds (each up to `late` seconds late), up to 1."""
    rng = random.Random(seed)
    steps, c, t = [], 0.0, lag
    while c < 1.0 and t < until:
        t += page / rate
        c = min(1.0, c + page)
        steps.append((t + rng.uniform(0.0, late), c))
    return steps


def _at(steps: list[tuple[float, float]], t: float) -> float | None:
    """Coverage at `t` (None once the pair is finished)."""
    c = 0.0
    for when, value in steps:
        if when <= t:
            c = value
    return None if c >= 1.0 else c


def _etas(
    pairs: list[list[tuple[float, float]]], until: float, base: float = 0.0
) -> list[tuple[float, float | None]]:
    eta = Eta()
    eta.begin(0.0, [base for _ in pairs])
    out = []
    for k in range(1, int(until * 10)):
        t = k / 10
        out.append((t, eta.update(t, [_at(p, t) for p in pairs])))
    return out


def test_eta_counts_down_to_the_slowest_pair() -> None:
    """Two pairs, one twice as slow, pages written up to 0.3 s late: the ETA is unknown
    until a page is written, then never goes up, and follows the slow pair (done at 21 s:
    1 s before its first page, 20 s to walk the window)."""
    fast = _steps(rate=0.1, lag=1.0, page=0.05, until=30, late=0.3, seed=1)
    slow = _steps(rate=0.05, lag=1.0, page=0.05, until=30, late=0.3, seed=2)
    etas = _etas([fast, slow], until=21)
    assert etas[0][1] is None
    known = [(t, e) for t, e in etas if e is not None]
    assert all(b <= a for (_, a), (_, b) in pairwise(known))
    done = slow[-1][0]
    for t, e in known:
        if t >= 8:  # a few pages in, it is close to the truth, and not early
            assert -1.0 <= t + e - done <= 3.5, (t, e, done)


def test_eta_follows_a_clear_slowdown_and_counts_from_a_resume() -> None:
    """A pair that slows to a fifth of its pace halfway: the ETA goes up once the
    slowdown is clear, then counts down again. A resumed pair (half covered already)
    is timed by what it gained since, not by what it had."""
    quick = _steps(rate=0.1, lag=0.5, page=0.05, until=5.5)
    slowed = quick + [(w + 5.5, c + 0.5) for w, c in _steps(0.02, 0.0, 0.05, until=25)]
    etas = [e for _, e in _etas([slowed], until=30) if e is not None]
    rises = [b - a for a, b in pairwise(etas) if b > a]
    assert rises and max(rises) > 2.0
    eta = Eta()
    eta.begin(0.0, [0.5])
    eta.update(1.0, [0.6])
    assert eta.update(2.0, [0.7]) == pytest.approx(3.0)


def _meter(report: SweepReport, clock: ManualClock) -> Meter:
    start, end = (datetime.fromtimestamp(x, UTC) for x in (START, END))
    return Meter(report, Query(start=start, end=end), clock=clock)


def test_first_frame_resolves_and_last_frame_is_done() -> None:
    """Before the matrix is known: no pair count at all. The last frame: ended, the real
    elapsed time, no ETA, no measured rates; a sweep that found no pair says so."""
    clock = ManualClock()
    report = SweepReport(started=0.0)
    meter = _meter(report, clock)
    assert meter.read().pairs is None
    assert "resolving accounts and regions" in _frame(meter.read(), 80)
    clock.advance(1.0)
    report.pairs = [_pair(), _pair()]
    first = meter.read()
    assert (first.pairs, first.done, first.eta_s) == (2, 0, None)
    for p in report.pairs:
        p.state, p.cursor.oldest = "done", START
    clock.advance(2.0)
    report.finished = 2.5
    last = meter.read(last=True)
    assert (last.ended, last.done, last.eta_s, last.calls, last.elapsed) == (
        "done",
        2,
        None,
        None,
        2.5,
    )
    text = _frame(last, 80)
    assert "2/2 pairs" in text and "in 0:00:03" in text and "ETA" not in text
    report.interrupted = True
    assert _meter(report, clock).read(last=True).ended == "interrupted"
    empty = SweepReport(started=0.0, finished=1.0)
    none = _frame(_meter(empty, clock).read(last=True), 80)
    assert "no pairs" in none and "0/0" not in none


def _frame(s: Snapshot, width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False)
    progress = SweepProgress(console, ManualClock())
    progress.show(s)
    console.print(progress)
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 60, 40])
def test_frames_fit_the_terminal(width: int) -> None:
    """Even with every number at its widest, no line is wider than the terminal, and the
    second line breaks between items, never inside one."""
    big = Snapshot(
        pairs=10_000, done=9_999, failed=1_234, events=123_456_789, covered=0.5,
        events_per_s=12_345.0, calls=(19_999.9, 20_000.0), throttled=12_345, eta_s=45_296.0,
    )  # fmt: skip
    for s in (big, Snapshot(pairs=None), Snapshot(pairs=0, ended="done")):
        lines = _frame(s, width).splitlines()
        assert all(len(line) <= width for line in lines), lines
    if width < 60:
        return  # it fits, cut short
    text = _frame(big, width)
    assert "calls 19999.9/s of 20000.0/s quota" in text
    assert "9,999/10,000" not in text and "9999/10000 pairs" in text
    assert "ETA 12:34:56" in text


def test_refresh_interval_from_the_environment() -> None:
    """TRAILSWEEP_PROGRESS_INTERVAL sets it; anything else keeps four frames a second."""
    assert refresh_interval({}) == 0.25
    assert refresh_interval({"TRAILSWEEP_PROGRESS_INTERVAL": "0.05"}) == 0.05
    for bad in ("x", "0", "-1", "nan", "1000"):
        assert refresh_interval({"TRAILSWEEP_PROGRESS_INTERVAL": bad}) == 0.25
