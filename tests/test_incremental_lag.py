"""Incremental runs against CloudTrail's delivery lag: the emulator's lag model on, its data
clock stepped between runs, each run pinned to the data clock by --end-time (the clock is
kept in the past, so that a pinned end is one the client takes).

What the look-back promises, checked against the emulator's truth: with the default
(20 minutes, longer than the model's 15-minute tail) nothing is missed, even across runs
killed with SIGKILL and run again; with a look-back shorter than the tail, exactly the
events that arrived too late are missed, counted from the truth's arrival times."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trailsweep.output.state import load
from trailsweep.testing import RunningEmulator, running_emulator

from inproc import run_here
from support import NOW_EPOCH, LookupPages, expected_line

REGIONS = ("us-east-1", "eu-west-1")
DATA0 = NOW_EPOCH - 10 * 3600  # the data clock's start: well in the past
STEP = 1800  # data seconds between runs, as an half-hourly cron job


@pytest.fixture
def lagged() -> Iterator[RunningEmulator]:
    with running_emulator(
        seed=21, now=datetime.fromtimestamp(DATA0, UTC), lag=True, members=2, suspended=0,
        regions=REGIONS, events_per_day=2000.0, faults={"rate": 50.0},
    ) as emu:  # fmt: skip
        yield emu


# Parts of 16 KiB, ten lines or so: a run writes a hundred parts and more, and the killed run
# is killed with parts closed and one open. (At 4 KiB the five runs wrote 2,500 parts, and
# their fsyncs, not what they test, were most of the test's time.) Pages of 25: each run
# still takes several pages of every pair, so a run killed after 3 is killed mid-way.
def args(emu: RunningEmulator, out: Path, state: Path, *extra: str) -> list[str]:
    """The run's command: into the file `out`, or into parts of 16 KiB if it is a directory."""
    into = ["--output-dir", str(out), "--part-size", "16KiB"] if out.is_dir() else ["-o", str(out)]
    return [
        sys.executable, "-m", "trailsweep", "sweep", "--accounts", "org", "--regions",
        ",".join(REGIONS), "--start-time", str(DATA0 - 3600), "--end-time", str(emu.now),
        "--state", str(state), *into, "--rate", "50", "--page-size", "25", *extra,
    ]  # fmt: skip


def run(emu: RunningEmulator, out: Path, state: Path, *extra: str) -> None:
    """The run, in this process (inproc.run_here): its output and state are the subject,
    not the process; the killed runs are processes of their own (`run_killed`)."""
    done = run_here(args(emu, out, state, *extra)[3:], env=emu.env())
    assert done.returncode == 0, done.stderr.decode()


def run_killed(emu: RunningEmulator, out: Path, state: Path, pages: int) -> None:
    """The run, killed with SIGKILL once the emulator has served `pages` pages to a pair."""
    seen = LookupPages(pages)
    emu.thread.set_tamper(seen)
    proc = subprocess.Popen(args(emu, out, state), env=emu.env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert seen.enough.wait(timeout=120)
        proc.kill()
    finally:
        proc.wait(timeout=60)
        emu.thread.set_tamper(None)
    assert proc.returncode == -9  # killed, not finished


def truth(emu: RunningEmulator, start: int, end: int) -> Counter[bytes]:
    out: Counter[bytes] = Counter()
    for account in emu.accounts:
        for region in REGIONS:
            for e in emu.truth(account, region, start=start, end=end, as_of=end):
                out[expected_line(account, region, e)] += 1
    return out


def written(paths: list[Path]) -> Counter[bytes]:
    return Counter(line for p in paths for line in p.read_bytes().splitlines(keepends=True))


@pytest.mark.parametrize(
    ("into", "runs", "kills"), [("files", 10, (3, 7)), ("parts", 5, (2,))], ids=["files", "parts"]
)
def test_ten_runs_two_killed_write_every_arrived_event_exactly_once(
    lagged: RunningEmulator, tmp_path: Path, into: str, runs: int, kills: tuple[int, ...]
) -> None:
    """Each run into its own file (-o): ten runs, two killed; or every run into one
    --output-dir of parts (each part small, so a run is killed between parts): five runs,
    one killed (the suite's time)."""
    emu, state = lagged, tmp_path / "ct.state"
    parts = tmp_path / "parts"
    parts.mkdir()
    outs = []
    for k in range(runs):
        out = tmp_path / f"run{k}.ndjson" if into == "files" else parts
        if k in kills:
            run_killed(emu, out, state, pages=3)
            assert load(state).pending is not None  # named before the first call
        run(emu, out, state)  # the same command again: it resumes, then commits
        outs.append(out)
        if k < runs - 1:
            emu.advance(STEP)
    expected = truth(emu, DATA0 - 3600, emu.now)
    got = written(outs if into == "files" else sorted(parts.glob("*.ndjson")))
    assert got == expected
    assert max(got.values()) == 1
    final = load(state)
    assert final.pending is None and final.runs == runs


def arrived_too_late(emu: RunningEmulator, ends: list[int], lookback: int) -> int:
    """Events of the truth a look-back of `lookback` cannot catch: first visible to the
    run after its arrival, whose window starts `lookback` before the previous run's end,
    past the event's own time."""
    missed = 0
    for account in emu.accounts:
        for region in REGIONS:
            found = emu.truth(account, region, start=DATA0 - 3600, end=ends[-1], as_of=ends[-1])
            arrivals = emu.arrivals(
                account, region, start=DATA0 - 3600, end=ends[-1], as_of=ends[-1]
            )
            for e in found:
                k = next(i for i, end in enumerate(ends) if end >= arrivals[e["EventId"]])
                if k > 0 and e["EventTime"] < ends[k - 1] - lookback:
                    missed += 1
    return missed


def test_a_look_back_shorter_than_the_lag_misses_exactly_the_late_events(
    lagged: RunningEmulator, tmp_path: Path
) -> None:
    emu, state = lagged, tmp_path / "short.state"
    outs, ends = [], []
    for k in range(5):
        out = tmp_path / f"run{k}.ndjson"
        run(emu, out, state, "--lookback", "60s")
        outs.append(out)
        ends.append(emu.now)
        if k < 4:
            emu.advance(STEP)
    expected = truth(emu, DATA0 - 3600, emu.now)
    got = written(outs)
    assert max(got.values()) == 1 and not got - expected  # nothing twice, nothing made up
    missed = sum((expected - got).values())
    assert missed == arrived_too_late(emu, ends, 60)
    assert missed > 0  # the model's tail is 15 minutes: a minute's look-back loses some
