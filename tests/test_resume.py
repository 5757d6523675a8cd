"""Exactly-once exports: SIGKILL at any moment, resume, and the file is byte-identical."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from trailsweep.emulator import EmulatorThread
from trailsweep.emulator.tamper import Call, Honest
from trailsweep.engine.spool import auto_read_ahead
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.settings.timeparse import format_time, from_epoch
from trailsweep.testing import ManualClock

from inproc import run_here
from support import NOW_EPOCH, HoldFirstPage, aws_env, expected_ndjson, settings, wait_for

START, END = NOW_EPOCH - 3 * 3600, NOW_EPOCH - 1
READ_AHEAD = auto_read_ahead(10)  # the default for 10 pairs
# Runs SIGKILLed in each test below (ten, then twelve; it was twenty): each kill checks the
# same thing again, and a process start is most of what one costs.
KILLS = 10
FAULTS = {
    "rate": 20.0, "burst": 20.0, "latency_ms": 15.0, "jitter_ms": 15.0,
    "error_rate": 0.03, "reset_rate": 0.01,
}  # fmt: skip


def _args(out: Path, *extra: str, rate: str = "20") -> list[str]:
    return [
        "sweep", "--accounts", "org", "--regions", "all", "--rate", rate,
        "--start-time", format_time(from_epoch(START)),
        "--end-time", format_time(from_epoch(END)),
        "--output", str(out), "--checkpoint-interval", "0.05",
        # The room the re-fetch bounds below count with: the default for 10 time-sliced
        # pairs is larger, and lets the last pages come in one burst that a kill misses.
        "--read-ahead", str(READ_AHEAD), *extra,
    ]  # fmt: skip


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pages(emu: EmulatorThread) -> int:
    return sum(p["pages"] for p in emu.stats()["pairs"].values())


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "trailsweep", *args], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _kill_when(proc: subprocess.Popen[bytes], out: Path, size: int, deadline: float) -> None:
    """SIGKILL the run once the output has grown past `size` bytes (or it has ended)."""
    wait_for(lambda: out.exists() and out.stat().st_size >= size, timeout=deadline, proc=proc)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def faulty() -> Iterator[EmulatorThread]:
    """5 accounts x 2 regions = 10 pairs, with latency, 5xx and connection resets."""
    with EmulatorThread(settings(members=4, suspended=0, faults=FAULTS)) as emu:
        yield emu


def test_sigkills_then_resume_is_byte_identical(faulty: EmulatorThread, tmp_path: Path) -> None:
    """Killed at 12 seeded moments and resumed after each: the same sha256 as one run, and
    resumes re-fetch little: at most a few pages per unfinished pair per resume."""
    env = aws_env(faulty)
    ref = tmp_path / "ref.ndjson"
    faulty.call(faulty.emulator.quota.reset)
    done = run_here(_args(ref, "--page-size", "10"), env=env)
    assert done.returncode == 0, done.stderr.decode()
    ref_pages, ref_size = _pages(faulty), ref.stat().st_size
    assert ref_size > 100_000

    out = tmp_path / "out.ndjson"
    ckpt = ckpt_mod.default_path(out)
    rng = random.Random(int(os.environ.get("TRAILSWEEP_KILL_SEED", "20261124")))
    faulty.call(faulty.emulator.quota.reset)
    unfinished_per_resume = []
    for _ in range(KILLS + 2):
        if ckpt.exists():
            unfinished_per_resume.append(sum(not p.finished for p in ckpt_mod.load(ckpt).pairs))
        # a moment: a point in the output's growth from here to half of what is left (near
        # 0: during discovery or the first pages; with a 0.05 s interval, often during a
        # checkpoint). Not closer to the end: a run that passed such a point could finish
        # before the kill reached it, ending the loop with too few resumes to say anything
        # about them (at 70%, once the client's CPU per event fell, 4 resumes of 12).
        have = out.stat().st_size if out.exists() else 0
        threshold = have + int(rng.random() * 0.5 * (ref_size - have))
        _kill_when(_start(_args(out, "--page-size", "10"), env), out, threshold, deadline=60)
        if ckpt.exists() and ckpt_mod.load(ckpt).finished:
            break
    final = run_here(_args(out, "--page-size", "10"), env=env)
    assert final.returncode == 0, final.stderr.decode()
    assert _sha(out) == _sha(ref)
    # A kill between a checkpoint's temp file and its rename leaves the temp behind; the
    # next run, holding the lock, removes it (safe_files.remove_stale_temps).
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([
        ref.name, ckpt_mod.default_path(ref).name, out.name, ckpt.name
    ])  # fmt: skip
    assert len(unfinished_per_resume) >= (KILLS + 2) // 2
    extra = _pages(faulty) - ref_pages
    print(f"resumes {len(unfinished_per_resume)} unfinished {sum(unfinished_per_resume)} "
          f"extra pages {extra} reference pages {ref_pages}")  # fmt: skip
    # Each resume re-fetches the page holding the next unwritten event of each unfinished
    # pair (+1); the pages each pair had fetched ahead when it was killed are lost (+1 for
    # the one in hand, + up to --read-ahead more).
    assert extra <= (2 + READ_AHEAD) * sum(unfinished_per_resume)


class PagesPerRun:
    """Counts, in the emulator, the LookupEvents pages served to each pair by the run in
    progress, and sets `enough` once one pair has had `pages` of them. Requests that come
    in on a connection a run before this one used (a killed process's last call, still
    being answered) are not counted."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.enough = threading.Event()
        self.served: Counter[tuple[str, str]] = Counter()
        self.discovery = 0  # ListAccounts calls of this run
        self.peers: set[Any] = set()
        self.old_peers: set[Any] = set()
        self.lock = threading.Lock()

    def next_run(self) -> None:
        with self.lock:
            self.old_peers |= self.peers
            self.peers, self.served, self.discovery = set(), Counter(), 0
            self.enough.clear()

    async def __call__(self, call: Call, honest: Honest) -> web.StreamResponse:
        transport = call.request.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        with self.lock:
            stale = peer in self.old_peers
            self.peers.add(peer)
        response = await honest()
        if stale or response.status != 200:
            return response
        with self.lock:
            if call.operation == "ListAccounts":
                self.discovery += 1
            elif call.operation == "LookupEvents":
                pair = (call.account, call.region)
                self.served[pair] += 1
                if self.served[pair] >= self.pages:
                    self.enough.set()
        return response


def _early_args(out: Path) -> list[str]:
    """One hour of 4 pairs, 5 events a page, one page at a time per pair, no timed
    checkpoint in the life of a run."""
    return [
        "sweep", "--accounts", "org", "--regions", "all", "--rate", "100",
        "--page-size", "5", "--no-slices", "--read-ahead", "0",
        "--start-time", format_time(from_epoch(NOW_EPOCH - 3600)),
        "--end-time", format_time(from_epoch(NOW_EPOCH - 1)),
        "--output", str(out), "--checkpoint-interval", "600", "--no-progress",
    ]  # fmt: skip


def _kill_early(
    runs: PagesPerRun, out: Path, env: dict[str, str], reference: bytes
) -> tuple[int, int, float]:
    """One run of the export to `out`, SIGKILLed once a pair has had `runs.pages` pages:
    the lines its checkpoint holds, its ListAccounts calls, its seconds."""
    runs.next_run()
    began = time.monotonic()
    proc = _start(_early_args(out), env)
    fired = runs.enough.wait(timeout=120)  # bounds a hang only
    proc.kill()
    proc.wait(timeout=30)
    assert fired, proc.stderr.read().decode() if proc.stderr else ""
    ckpt = ckpt_mod.default_path(out)
    assert ckpt.exists(), "the run left no checkpoint"
    state = ckpt_mod.load(ckpt)
    assert not state.finished
    # What the checkpoint vouches for is the reference's beginning.
    assert out.read_bytes()[: state.offset] == reference[: state.offset]
    assert state.written == reference[: state.offset].count(b"\n")
    return state.written, runs.discovery, round(time.monotonic() - began, 2)


@pytest.mark.timeout(600)  # 11 processes start (each run's wait bounds a hang)
def test_early_kills_each_move_the_export_forward(tmp_path: Path) -> None:
    """Ten runs, each SIGKILLed a few pages into its sweep (the first within seconds of
    its start, before any timed checkpoint): every run leaves more lines checkpointed than
    the one before, only the first discovers the matrix, and the last run finishes the
    same bytes as one uninterrupted run.

    When to kill is decided by causes, not by time: with `--no-slices --read-ahead 0`, a
    pair's pager asks for page k+1 only once the merge has taken page k, and the merge
    takes a pair's page beyond its first two (one may be all written already, on a
    resume) only after a chunk has been yielded and written: the 5th page served to one
    pair (4 of this run's, should one be a killed run's last call) comes after the run
    wrote its first chunk, which (sink.FirstWrites) is checkpointed at once. The timer
    is out of the picture (--checkpoint-interval 600), as for a run killed in its first
    seconds; the emulator's latency keeps what a run writes after that small."""
    faults = {"rate": 1e4, "burst": 1e4, "latency_ms": 10.0}
    emulated = settings(members=1, suspended=0, events_per_day=2000.0, faults=faults)
    with EmulatorThread(emulated) as emu:
        env = aws_env(emu)
        out = tmp_path / "out.ndjson"
        accounts = sorted(a.id for a in emu.emulator.world.accounts)
        pairs = [(a, r) for a in accounts for r in ("eu-west-1", "us-east-1")]
        reference = expected_ndjson(emu, pairs, start=NOW_EPOCH - 3600, end=NOW_EPOCH - 1)
        runs = PagesPerRun(pages=5)
        emu.set_tamper(runs)
        try:
            killed = [_kill_early(runs, out, env, reference) for _ in range(KILLS)]
        finally:
            emu.set_tamper(None)
        written, discovered, seconds = (list(column) for column in zip(*killed, strict=True))
        print(f"lines checkpointed after each kill {written}; seconds to each kill {seconds}")
        assert all(a < b for a, b in pairwise(written)), written
        assert written[0] > 0
        assert discovered == [1] + [0] * (KILLS - 1), discovered  # the recorded matrix is used
        final = run_here(_early_args(out), env=env)
        assert final.returncode == 0, final.stderr.decode()
        assert out.read_bytes() == reference


def test_expired_tokens_fall_back_and_stay_byte_identical(tmp_path: Path) -> None:
    """With a token TTL shorter than the pause before resuming, every stored token is
    refused; the pairs re-query from their oldest written second, nothing lost or doubled.
    (--no-slices: one chain per pair resumes from its stored token; sliced pairs resume
    from the oldest written second without one, see test_sliced_resume...)"""
    # The wall clock starts at the real time: AssumeRole sessions expire an hour after it,
    # and botocore compares that with the real time. Started at the hour the suite was
    # collected in (NOW_EPOCH), a run that reached this test after the next hour began got
    # sessions already expired ("refreshed credentials are still expired"): CI at 01:57.
    clock = ManualClock(wall=time.time())
    fast = {"rate": 1e6, "burst": 1e6, "token_ttl": 30.0}
    with EmulatorThread(settings(members=4, suspended=0, faults=fast), clock=clock) as emu:
        env = aws_env(emu)
        ref = tmp_path / "ref.ndjson"
        assert run_here(_args(ref, "--page-size", "7", rate="100"), env=env).returncode == 0
        out = tmp_path / "out.ndjson"
        for cut in (0.2, 0.4, 0.6):  # margin: a loaded machine notices the size late
            proc = _start(_args(out, "--page-size", "7", "--no-slices", rate="5"), env)
            _kill_when(proc, out, int(ref.stat().st_size * cut), deadline=60)
            clock.advance(31)  # every token issued so far has expired
            stats = emu.stats()["pairs"]
            refused_before = sum(p["errors"].get("InvalidNextTokenException", 0)
                                 for p in stats.values())  # fmt: skip
        result = run_here(_args(out, "--page-size", "7", "--no-slices", rate="100"), env=env)
        assert result.returncode == 0, result.stderr.decode()
        refused = sum(
            p["errors"].get("InvalidNextTokenException", 0) for p in emu.stats()["pairs"].values()
        )
        assert refused > refused_before  # the fallback really ran
        assert _sha(out) == _sha(ref)


def _partial(emu: EmulatorThread, tmp_path: Path) -> tuple[Path, Path, bytes]:
    """An export killed halfway: its output, checkpoint, and the output's bytes."""
    out = tmp_path / "part.ndjson"
    ckpt = ckpt_mod.default_path(out)
    proc = _start(_args(out, rate="2"), aws_env(emu))
    wait_for(lambda: ckpt.exists() and ckpt_mod.load(ckpt).written > 200, timeout=60, proc=proc)
    proc.kill()
    proc.wait(timeout=30)
    assert not ckpt_mod.load(ckpt).finished
    return out, ckpt, out.read_bytes()


@pytest.fixture(scope="module")
def slow() -> Iterator[EmulatorThread]:
    with EmulatorThread(settings(members=4, suspended=0)) as emu:
        yield emu


def _refused(result: subprocess.CompletedProcess[bytes], needle: str) -> None:
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err and "Traceback" not in err


def test_corrupt_truncated_and_mismatched_checkpoints_are_refused(
    slow: EmulatorThread, tmp_path: Path
) -> None:
    """Exit 2 with a clear message; the output is left exactly as it was."""
    out, ckpt, before = _partial(slow, tmp_path)
    env = aws_env(slow)
    good = ckpt.read_bytes()

    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0x01
    ckpt.write_bytes(bytes(flipped))
    _refused(run_here(_args(out), env=env), "corrupt")
    assert out.read_bytes() == before

    ckpt.write_bytes(good[: len(good) // 2])
    _refused(run_here(_args(out), env=env), "corrupt")
    assert out.read_bytes() == before

    ckpt.write_bytes(good)
    changed = _args(out)
    changed[changed.index("--start-time") + 1] = format_time(from_epoch(START + 60))
    _refused(run_here(changed, env=env), "start_time")
    assert out.read_bytes() == before

    result = run_here(["sweep", "--resume", str(out), "--rate", "20"], env=env)
    assert result.returncode == 0, result.stderr.decode()
    accounts = sorted(a.id for a in slow.emulator.world.accounts)
    pairs = [(a, r) for a in accounts for r in ("eu-west-1", "us-east-1")]
    assert out.read_bytes() == expected_ndjson(slow, pairs, start=START, end=END)
    status = run_here(["status", str(out), "--json"])
    doc = orjson.loads(status.stdout)
    assert doc["finished"] is True
    assert doc["pairs_done"] == doc["pairs_total"] == 10


def test_second_concurrent_run_is_refused(slow: EmulatorThread, tmp_path: Path) -> None:
    """While one run writes an output, another on the same output exits 2 at once. The
    first run is held at its first page, so it is still running when the second starts
    (its dozen calls at 1/s per pair could end before a second Python started, on a
    loaded machine)."""
    out = tmp_path / "busy.ndjson"
    env = aws_env(slow)
    hold = HoldFirstPage()
    slow.set_tamper(hold)
    first = _start(_args(out, rate="1"), env)
    try:
        assert hold.arrived.wait(timeout=60), "the first run made no call"  # bounds a hang
        assert first.poll() is None
        _refused(run_here(_args(out), env=env), "another trailsweep")
    finally:
        first.kill()
        first.wait(timeout=30)
        slow.call(hold.release.set)
        slow.set_tamper(None)


def test_stale_lock_of_a_dead_run_is_taken_over(slow: EmulatorThread, tmp_path: Path) -> None:
    """A run killed with SIGKILL leaves its lock file; the next run takes it over."""
    out, _, _ = _partial(slow, tmp_path)
    lock = out.with_name(out.name + ".checkpoint.json.lock")
    assert lock.exists()
    result = run_here(_args(out, rate="20"), env=aws_env(slow))
    assert result.returncode == 0, result.stderr.decode()
    assert not lock.exists()


def test_compressed_output_is_refused(slow: EmulatorThread, tmp_path: Path) -> None:
    """.gz output cannot be resumed exactly, so it is refused with the alternative."""
    _refused(run_here(_args(tmp_path / "x.ndjson.gz"), env=aws_env(slow)), "compress")
    assert list(tmp_path.iterdir()) == []


def test_status_of_an_unfinished_export(slow: EmulatorThread, tmp_path: Path) -> None:
    """`trailsweep status` shows per-pair progress of a killed export."""
    out, _, _ = _partial(slow, tmp_path)
    result = run_here(["status", str(out)])
    text = result.stdout.decode()
    assert result.returncode == 0
    assert "unfinished" in text
    assert text.count("\n") == 2 + 10
    doc = orjson.loads(run_here(["status", str(out), "--json"]).stdout)
    assert doc["events_written"] > 0
    assert 0 <= doc["progress_percent"] < 100
    assert not os.environ.get("NO_SUCH_VARIABLE_USED")
