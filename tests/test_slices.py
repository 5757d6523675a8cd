"""Time-sliced pagers (slices.SlicedPager) against an emulator whose pages are slow enough
that one NextToken chain cannot use the quota: the same bytes as one chain, several chains
in flight, few wasted calls, exact resumes and prefix-only failures."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from trailsweep.emulator import EmulatorThread
from trailsweep.settings.timeparse import format_time, from_epoch

from support import (
    NOW_EPOCH,
    LookupPages,
    aws_env,
    expected_line,
    expected_ndjson,
    run_cli,
    settings,
    wait_for,
)

HOUR = 3600
START, END = NOW_EPOCH - 4 * HOUR, NOW_EPOCH - 1
# 20 calls/s with 100 ms pages: one chain could make 10 calls/s, half the quota.
SLOW = {"rate": 20.0, "burst": 20.0, "latency_ms": 100.0}


@pytest.fixture(scope="module")
def slow() -> Iterator[EmulatorThread]:
    with EmulatorThread(settings(members=1, suspended=0, events_per_day=25000.0,
                                 faults=SLOW)) as emu:  # fmt: skip
        yield emu


def _args(emu: EmulatorThread, *extra: str, start: int = START) -> list[str]:
    return [
        "sweep", "--regions", "us-east-1", "--rate", "20", "--page-size", "10",
        "--start-time", format_time(from_epoch(start)),
        "--end-time", format_time(from_epoch(END)), *extra,
    ]  # fmt: skip


def _pair_stats(emu: EmulatorThread) -> dict[str, int]:
    account = emu.emulator.world.management.id
    stats: dict[str, int] = emu.stats()["pairs"][f"{account}/us-east-1"]
    return stats


def _sweep(emu: EmulatorThread, *extra: str, start: int = START) -> tuple[bytes, dict[str, int]]:
    emu.call(emu.emulator.quota.reset)
    result = run_cli(_args(emu, *extra, start=start), env=aws_env(emu))
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout, _pair_stats(emu)


def _want(emu: EmulatorThread, start: int = START) -> bytes:
    account = emu.emulator.world.management.id
    return expected_ndjson(emu, [(account, "us-east-1")], start=start, end=END)


def test_slices_write_the_same_bytes_with_several_chains(slow: EmulatorThread) -> None:
    want = _want(slow)
    assert want.count(b"\n") > 300  # 30+ pages of 10
    one, one_stats = _sweep(slow, "--no-slices")
    sliced, stats = _sweep(slow)
    assert one == want
    assert sliced == want
    assert one_stats["max_in_flight"] == 1
    assert stats["max_in_flight"] >= 2
    # Slices are planned from the density seen; a wasted call is one whose slice held
    # fewer events than a page, at most one per slice boundary.
    assert stats["calls"] <= one_stats["calls"] * 1.25 + 2


def test_idle_days_cost_few_calls(tmp_path: Path) -> None:
    """A window that is mostly empty: slices widen instead of costing a call per slice."""
    sparse = settings(members=1, suspended=0, events_per_day=300.0, idle_day_share=0.6,
                      faults=SLOW)  # fmt: skip
    with EmulatorThread(sparse) as emu:
        start = NOW_EPOCH - 20 * 24 * HOUR
        one, one_stats = _sweep(emu, "--no-slices", start=start)
        sliced, stats = _sweep(emu, start=start)
        assert sliced == one == _want(emu, start)
        assert stats["calls"] <= one_stats["calls"] * 1.25 + 4


def test_a_late_first_page_splits_before_it_answers() -> None:
    """When the pair's next call is due and its first page is still out, the latency is
    at least that long: the window is halved then, blind, so the second chain's call goes
    at the pair's next slot rather than a whole latency later. A pair of one page pays a
    call or two for it (splits on the chance stop once one comes back short of a page);
    the bytes are the same."""
    sparse = settings(members=1, suspended=0, events_per_day=12.0, faults=SLOW)
    start = NOW_EPOCH - 12 * HOUR  # a blind split needs a window of 6 hours or more
    with EmulatorThread(sparse) as emu:
        want = _want(emu, start)
        assert 0 < want.count(b"\n") < 10  # one page of 10
        one, one_stats = _sweep(emu, "--no-slices", start=start)
        sliced, stats = _sweep(emu, start=start)
        assert sliced == one == want
        assert (one_stats["calls"], one_stats["max_in_flight"]) == (1, 1)
        # One chain would have stopped at its one page: a second call in flight proves
        # it went out before the first page answered.
        assert stats["max_in_flight"] >= 2
        assert stats["calls"] <= 3


def _grown(path: Path, size: float) -> bool:
    return path.exists() and path.stat().st_size >= size


def _want_any_of(emu: EmulatorThread, key: str, values: list[str]) -> bytes:
    """The lines of a query for any of `values` of `key` (values no event shares), in the
    README's order: newest first; in one second by the order the values were given, then
    the API's order."""
    account = emu.emulator.world.management.id
    keyed = [
        ((-e["EventTime"], n, i), expected_line(account, "us-east-1", e))
        for n, value in enumerate(values)
        for i, e in enumerate(
            emu.truth(account, "us-east-1", start=START, end=END, attribute=(key, value))
        )
    ]
    return b"".join(line for _, line in sorted(keyed, key=lambda kv: kv[0]))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sliced_resume_after_kills_is_byte_identical(slow: EmulatorThread, tmp_path: Path) -> None:
    """SIGKILLed while several slices are in flight and resumed: the same sha256 as one
    run (a checkpoint holds only the oldest written second; slices are planned again)."""
    env = aws_env(slow)
    out = tmp_path / "out.ndjson"
    start = END + 1 - 2 * HOUR  # half the module's window: the same kills, half the calls
    want = _want(slow, start)
    args = [*_args(slow, start=start), "--output", str(out), "--checkpoint-interval", "0.05"]
    for fraction in (0.15, 0.35, 0.55, 0.75, 0.9):
        proc = subprocess.Popen(
            [sys.executable, "-m", "trailsweep", *args], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        grown = partial(_grown, out, len(want) * fraction)
        wait_for(grown, timeout=60, proc=proc)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    final = run_cli(args, env=env)
    assert final.returncode == 0, final.stderr.decode()
    assert out.read_bytes() == want
    assert _pair_stats(slow)["max_in_flight"] >= 2


OR_VALUES = ["--lookup-attributes", "AttributeKey=ReadOnly,AttributeValue=true",
             "AttributeKey=ReadOnly,AttributeValue=false"]  # fmt: skip


@pytest.mark.parametrize("query", [[], OR_VALUES], ids=["slices", "OR chains"])
def test_a_failure_mid_run_leaves_a_prefix(
    slow: EmulatorThread, tmp_path: Path, query: list[str]
) -> None:
    """Access denied while several chains are in flight (time slices, or one chain per OR
    value): the pair fails, and what was written is a prefix of the full output (nothing
    past the gap a failed chain leaves)."""
    want = _want_any_of(slow, "ReadOnly", ["true", "false"]) if query else _want(slow)
    assert want.count(b"\n") > 300
    account = slow.emulator.world.management.id
    out = tmp_path / "out.ndjson"
    pages = LookupPages(8)  # this run's: several chains have had pages
    slow.set_tamper(pages)
    proc = subprocess.Popen(
        [sys.executable, "-m", "trailsweep", *_args(slow), *query, "--output", str(out),
         "--checkpoint-interval", "0.05"],
        env=aws_env(slow), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        pages.enough.wait(timeout=60)  # bounds a hang only
        wait_for(lambda: out.exists() and out.stat().st_size > 0, timeout=60, proc=proc)
        slow.set_faults(deny_accounts=[account])
        _, err = proc.communicate(timeout=60)
    finally:
        slow.set_tamper(None)
        slow.set_faults(deny_accounts=[])
    assert proc.returncode == 1, err.decode()
    written = out.read_bytes()
    assert 0 < len(written) < len(want)
    assert want.startswith(written)
