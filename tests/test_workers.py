"""`--workers N`: the pairs swept in N processes, their events merged in the first one into
the bytes one process writes; killed (the sweep, a worker, Ctrl-C) and resumed, exactly
once (engine/workers.py, engine/worker_main.py)."""

from __future__ import annotations

import gzip
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import orjson
import pytest

import trailsweep
from trailsweep import InputError, SweepSettings
from trailsweep.emulator import EmulatorThread
from trailsweep.engine.pair import PairState
from trailsweep.engine.workers import split
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.settings.timeparse import format_time, from_epoch
from trailsweep.settings.workers import PAIRS_PER_WORKER, workers_for

from inproc import run_here
from support import (
    NOW_EPOCH,
    LookupPages,
    aws_env,
    expected_ndjson,
    settings,
    wait_for,
)  # fmt: skip

START, END = NOW_EPOCH - 6 * 3600, NOW_EPOCH - 1
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1")


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    """4 accounts x 3 regions = 12 pairs, quota lifted, a little latency so that a run
    lasts long enough to be killed in its middle."""
    faults = {"rate": 1e4, "burst": 1e4, "latency_ms": 5.0}
    emulated = settings(
        members=3, suspended=0, regions=REGIONS, events_per_day=3000.0, faults=faults
    )
    with EmulatorThread(emulated) as running:
        yield running


def _pairs(emu: EmulatorThread) -> list[tuple[str, str]]:
    accounts = sorted(a.id for a in emu.emulator.world.accounts)
    return [(a, r) for a in accounts for r in REGIONS]


def _reference(emu: EmulatorThread) -> bytes:
    return expected_ndjson(emu, _pairs(emu), start=START, end=END)


def _args(*extra: str) -> list[str]:
    return [
        "sweep", "--accounts", "org", "--regions", "all", "--rate", "100",
        "--start-time", format_time(from_epoch(START)), "--end-time", format_time(from_epoch(END)),
        "--page-size", "20", "--no-progress", *extra,
    ]  # fmt: skip


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "trailsweep", *args], env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(c) for c in text.split()]


def _wait_gone(pids: list[int]) -> None:
    """Wait, on the kernel's word (a pidfd becomes readable when its process ends), until
    every one of `pids` has ended; a bounded wait only against a hang."""
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            ready, _, _ = select.select([fd], [], [], 60)
            assert ready, f"process {pid} outlived the sweep that started it"
        finally:
            os.close(fd)


def _kill_mid_run(
    emu: EmulatorThread, args: list[str], env: dict[str, str], which: int
) -> tuple[subprocess.Popen[bytes], list[int], bytes]:
    """The sweep of `args`, once the emulator has served 12 pages to one of its pairs
    (an event, not a time): SIGKILL its worker number `which` (-1: the sweep itself),
    then wait for the sweep to end. The sweep, its workers' pids, its stderr."""
    pages = LookupPages(pages=12)
    emu.set_tamper(pages)
    try:
        proc = _start(args, env)
        fired = pages.enough.wait(timeout=120)  # bounds a hang only
        workers = _children(proc.pid) if proc.poll() is None else []
        if workers:
            os.kill(proc.pid if which < 0 else workers[which], signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
    finally:
        emu.set_tamper(None)
    assert fired, err.decode()
    return proc, workers, err


def test_two_workers_write_what_one_process_writes(emu: EmulatorThread, tmp_path: Path) -> None:
    """stdout and --output, --workers 2 and 3: the emulator's truth, byte for byte, as
    --workers 1 writes it. The sweeps run in this process (inproc.run_here), their workers
    as processes; the sweep as a process is the kill tests' below."""
    env = aws_env(emu)
    reference = _reference(emu)
    assert reference.count(b"\n") > 2000
    one = run_here(_args("--workers", "1"), env=env)
    assert one.returncode == 0, one.stderr.decode()
    assert one.stdout == reference
    two = run_here(_args("--workers", "2"), env=env)
    assert two.returncode == 0, two.stderr.decode()
    assert two.stdout == reference
    out = tmp_path / "out.ndjson"
    three = run_here(_args("--workers", "3", "--output", str(out), "--summary-json",
                          str(tmp_path / "s.json")), env=env)  # fmt: skip
    assert three.returncode == 0, three.stderr.decode()
    assert out.read_bytes() == reference
    summary = orjson.loads((tmp_path / "s.json").read_bytes())
    assert summary["events"] == reference.count(b"\n")
    assert summary["pairs_total"] == len(_pairs(emu)) and summary["failed"] == 0
    assert summary["calls"] >= len(_pairs(emu))  # the workers' calls, counted here
    assert ckpt_mod.load(ckpt_mod.default_path(out)).finished


def test_max_items_and_unordered_in_workers(emu: EmulatorThread) -> None:
    """--max-items stops at the same line as one process; --unordered writes the same
    lines, each pair's in its own order."""
    env = aws_env(emu)
    reference = _reference(emu)
    first = run_here(_args("--workers", "2", "--max-items", "777"), env=env)
    assert first.returncode == 0, first.stderr.decode()
    assert first.stdout == b"".join(reference.splitlines(keepends=True)[:777])
    loose = run_here(_args("--workers", "2", "--unordered"), env=env)
    assert loose.returncode == 0, loose.stderr.decode()
    assert sorted(loose.stdout.splitlines()) == sorted(reference.splitlines())

    def of_pair(data: bytes, account: str, region: str) -> list[bytes]:
        mark = f'{{"account":"{account}","region":"{region}",'.encode()
        return [line for line in data.splitlines() if line.startswith(mark)]

    for account, region in _pairs(emu):
        assert of_pair(loose.stdout, account, region) == of_pair(reference, account, region)


def test_sigkill_of_the_sweep_ends_its_workers_and_a_resume_finishes_it(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """The sweep SIGKILLed mid-way: its workers end with it (their stdin closes), and the
    same command again, with another number of workers, finishes the same bytes."""
    env = aws_env(emu)
    out = tmp_path / "out.ndjson"
    args = _args("--output", str(out), "--checkpoint-interval", "0.05", "--read-ahead", "1")
    _, workers, err = _kill_mid_run(emu, [*args, "--workers", "2"], env, -1)
    assert len(workers) == 2, err.decode()
    _wait_gone(workers)
    state = ckpt_mod.load(ckpt_mod.default_path(out))
    assert not state.finished
    reference = _reference(emu)
    assert out.read_bytes()[: state.offset] == reference[: state.offset]
    again = run_here([*args, "--workers", "3"], env=env)
    assert again.returncode == 0, again.stderr.decode()
    assert out.read_bytes() == reference


def test_a_lost_worker_stops_the_sweep_resumably(emu: EmulatorThread, tmp_path: Path) -> None:
    """One worker SIGKILLed: the sweep does not hang; it stops as an interrupted one does,
    one line and exit 1 (WorkerLost), no pair failed, the checkpoint holding what was
    written; the same command again finishes the truth, in order."""
    env = aws_env(emu)
    out = tmp_path / "out.ndjson"
    args = _args("--output", str(out), "--read-ahead", "1", "--workers", "2")
    proc, workers, err = _kill_mid_run(emu, args, env, 0)
    assert len(workers) == 2, err.decode()
    assert proc.returncode == 1, err.decode()
    assert err.decode().count("\n") == 1 and "exit code -9" in err.decode(), err.decode()
    _wait_gone(workers)
    state = ckpt_mod.load(ckpt_mod.default_path(out))
    assert not state.finished  # so that the same command resumes it
    assert not [p for p in state.pairs if p.state == "failed"]
    assert out.read_bytes()[: state.offset] == _reference(emu)[: state.offset]
    again = run_here(args, env=env)
    assert again.returncode == 0, again.stderr.decode()
    assert out.read_bytes() == _reference(emu)


def test_ctrl_c_stops_every_process_and_saves_the_checkpoint(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """SIGINT to the whole process group, as a terminal sends it, once the file has grown:
    exit 130, the workers end, the checkpoint is saved; the same command again finishes
    the truth."""
    env = aws_env(emu)
    out = tmp_path / "out.ndjson"
    args = _args("--output", str(out), "--read-ahead", "1", "--workers", "2")
    proc = _start(args, env)
    # A file another process writes: no event announces it (support.wait_for).
    grown = wait_for(lambda: out.exists() and out.stat().st_size > 20_000, timeout=120, proc=proc)
    workers = _children(proc.pid) if proc.poll() is None else []
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert grown and len(workers) == 2, err.decode()
    assert proc.returncode == 130, err.decode()
    assert b"Traceback" not in err
    _wait_gone(workers)
    state = ckpt_mod.load(ckpt_mod.default_path(out))
    assert not state.finished and state.written > 0
    assert not [p for p in state.pairs if p.state == "failed"]
    again = run_here(args, env=env)
    assert again.returncode == 0, again.stderr.decode()
    assert out.read_bytes() == _reference(emu)


def test_split_deals_contiguous_runs_as_even_as_counts_go() -> None:
    pairs = [PairState(f"{a:012d}", r) for a in range(7) for r in REGIONS]
    for workers in range(1, 25):
        groups = split(pairs, workers)
        assert [p for g in groups for p in g] == pairs
        sizes = [len(g) for g in groups]
        assert len(groups) == min(workers, len(pairs))
        assert max(sizes) - min(sizes) <= 1


def test_auto_runs_one_process_per_share_of_pairs_up_to_the_cores() -> None:
    assert workers_for(None, 12, cores=8) == 1
    assert workers_for(None, PAIRS_PER_WORKER, cores=8) == 1
    assert workers_for(None, PAIRS_PER_WORKER + 1, cores=8) == 2
    assert workers_for(None, 100 * PAIRS_PER_WORKER, cores=8) == 8
    assert workers_for(4, 3) == 3  # never more than one per pair
    assert workers_for(1, 10_000) == 1


def test_parts_and_state_in_workers(emu: EmulatorThread, tmp_path: Path) -> None:
    """--output-dir parts (compressed, several) and an incremental --state run, in two
    workers: the parts in name order hold the truth; the state is saved for the next run."""
    env = aws_env(emu)
    parts, state = tmp_path / "parts", tmp_path / "state.json"
    parts.mkdir()
    args = _args("--workers", "2", "--output-dir", str(parts), "--part-size", "256KiB",
                 "--compress", "gz", "--state", str(state))  # fmt: skip
    done = run_here(args, env=env)
    assert done.returncode == 0, done.stderr.decode()
    names = sorted(p.name for p in parts.iterdir() if p.name.endswith(".ndjson.gz"))
    assert len(names) > 2
    joined = b"".join(gzip.decompress((parts / name).read_bytes()) for name in names)
    assert joined == _reference(emu)
    assert state.exists()


def test_bad_workers_are_one_line_exit_2_before_any_call(tmp_path: Path) -> None:
    for args, word in (
        (["--workers", "0"], "--workers: 0 is out of range"),
        (["--workers", "many"], "--workers: 'many' is not a number"),
        (["--workers", "257"], "--workers: 257 is out of range"),
        (["--workers", "2", "--follow"], "--workers: a follower runs in one process"),
    ):
        done = run_here(["sweep", *args], env={"PATH": "/usr/bin", "AWS_ACCESS_KEY_ID": "x"})
        assert done.returncode == 2, (args, done.stderr)
        err = done.stderr.decode()
        assert word in err and err.count("\n") == 1, (args, err)
        assert done.stdout == b""
    with pytest.raises(InputError, match="--workers"):
        SweepSettings.build(workers=-1)
    assert SweepSettings.build().workers == 1  # the library's default: this process
    assert SweepSettings.build(workers="auto").workers is None
    assert SweepSettings.build(follow=True, workers="auto").workers == 1


def test_a_stream_refuses_workers() -> None:
    """open_sweep and iter_events hand on parsed events, which workers do not send."""
    settings = SweepSettings.build(workers=2)
    with pytest.raises(InputError, match="open_sweep: workers are for runs that write"):
        anyio.run(_open, settings)
    with pytest.raises(InputError, match="iter_events: workers are for runs that write"):
        trailsweep.iter_events(settings)


async def _open(settings: SweepSettings) -> None:
    async with trailsweep.open_sweep(settings):
        pass
