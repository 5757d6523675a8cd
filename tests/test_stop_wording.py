"""What the summary and Ctrl-C say when a sweep stops before every pair is done:
--max-items reached (exit 0, pairs named as stopped, not complete), and an interrupt with
output to stdout (no checkpoint to save) or to a file (its checkpoint)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from trailsweep.emulator import EmulatorThread
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.settings.timeparse import format_time, from_epoch

from inproc import run_here
from support import NOW_EPOCH, aws_env, settings

START, END = NOW_EPOCH - 6 * 3600, NOW_EPOCH - 1
WINDOW = ["--start-time", format_time(from_epoch(START)),
          "--end-time", format_time(from_epoch(END))]  # fmt: skip
REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    """Two accounts x two regions; the real 2 calls/s quota (an interrupt needs time)."""
    with EmulatorThread(settings(members=1, suspended=0, events_per_day=2000.0)) as e:
        yield e


def test_pairs_cut_short_by_max_items_are_named_stopped(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """The newest 10 events of 4 pairs: each pair whose events in the window are not all
    among them is "stopped at --max-items", not complete, and the exit code is 0."""
    summary = tmp_path / "summary.json"
    result = run_here(
        ["sweep", "--accounts", "org", "--regions", ",".join(REGIONS), *WINDOW,
         "--max-items", "10", "--summary-json", str(summary)],
        env=aws_env(emu),
    )  # fmt: skip
    err = result.stderr.decode()
    assert result.returncode == 0, err
    truth = {
        (a.id, r): emu.truth(a.id, r, start=START, end=END)
        for a in emu.emulator.world.accounts
        for r in REGIONS
    }
    newest = sorted(
        ((-e["EventTime"], pair, i) for pair, events in truth.items() for i, e in enumerate(events))
    )[:10]
    written = Counter(pair for _, pair, _ in newest)
    complete = sum(written[pair] == len(events) for pair, events in truth.items())
    stopped = len(truth) - complete
    assert stopped > 0
    first = err.splitlines()[0]
    assert first.startswith(
        f"trailsweep: 4 pairs, {complete} complete, {stopped} stopped at --max-items, 0 failed;"
    ), err
    doc = orjson.loads(summary.read_bytes())
    assert (doc["done"], doc["stopped_at_max_items"], doc["exit_code"]) == (complete, stopped, 0)


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "trailsweep", *args], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip


SLOW = ["--accounts", "org", "--regions", ",".join(REGIONS), "--start-time", "1d",
        "--page-size", "5"]  # fmt: skip  # ~400 pages a pair at 2 calls/s: minutes


def test_ctrl_c_with_stdout_does_not_speak_of_a_checkpoint(emu: EmulatorThread) -> None:
    """SIGINT once the first line is on stdout: exit 130, and the line on stderr says
    stdout has no checkpoint instead of claiming to save one."""
    proc = _start(["sweep", *SLOW], aws_env(emu))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(b'{"account":')
        proc.send_signal(signal.SIGINT)
        _, err_bytes = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err_bytes.decode()
    assert proc.returncode == 130, err
    assert "stdout has no checkpoint" in err, err
    assert "saving the checkpoint" not in err, err


def test_ctrl_c_with_a_file_names_its_checkpoint(emu: EmulatorThread, tmp_path: Path) -> None:
    """SIGINT once a call is logged (-v): exit 130; stderr names the checkpoint saved, and
    the checkpoint on disk is an unfinished one."""
    out = tmp_path / "out.ndjson"
    ckpt = ckpt_mod.default_path(out)
    proc = _start(["sweep", *SLOW, "-o", str(out), "-v"], aws_env(emu))
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # up to the first call logged
            if b"ms ok (rate " in line:
                break
        else:
            pytest.fail("the sweep ended before its first call was logged")
        proc.send_signal(signal.SIGINT)
        _, err_bytes = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err_bytes.decode()
    assert proc.returncode == 130, err
    assert f"saving the checkpoint {ckpt}" in err, err
    assert "stdout" not in err, err
    assert not ckpt_mod.load(ckpt).finished
