"""Hostile files: full disks, torn writes, symlinks, shared locks and crafted checkpoints
(issue 12, file part). Every sweep runs the real client against the emulator over HTTP;
in-process through `trailsweep.cli:main` unless a real process is the point (rlimits)."""

from __future__ import annotations

import hashlib
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trailsweep import checkpoint as ckpt_mod
from trailsweep.cli import main
from trailsweep.emulator import EmulatorThread
from trailsweep.timeparse import format_time, from_epoch

from support import NOW_EPOCH, aws_env, settings

START, END = NOW_EPOCH - 4 * 3600, NOW_EPOCH - 1
FAST = {"rate": 10_000.0, "burst": 10_000.0}


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    """2 accounts x 2 regions, a quota no test waits on."""
    with EmulatorThread(settings(members=1, suspended=0, faults=FAST)) as emu:
        yield emu


@pytest.fixture
def env(emu: EmulatorThread, use_emu: Any) -> dict[str, str]:
    """This process's AWS SDKs (and any subprocess given the result) point at `emu`."""
    use_emu(emu)
    return aws_env(emu)


def args(out: Path | str, *extra: str) -> list[str]:
    return [
        "sweep", "--accounts", "org", "--regions", "all", "--rate", "100", "--page-size", "20",
        "--start-time", format_time(from_epoch(START)), "--end-time", format_time(from_epoch(END)),
        "--output", str(out), "--no-progress", *extra,
    ]  # fmt: skip


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run `trailsweep ARGV` in this process: (exit code, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    code = exc.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def one_line(err: str, needle: str) -> None:
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err, err
    assert "Traceback" not in err, err


@pytest.fixture(scope="module")
def reference(emu: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of one uninterrupted export."""
    out = tmp_path_factory.mktemp("ref") / "ref.ndjson"
    result = subprocess.run(
        [sys.executable, "-m", "trailsweep", *args(out)], env=aws_env(emu),
        capture_output=True, stdin=subprocess.DEVNULL, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    data = out.read_bytes()
    assert data.count(b"\n") > 200
    return data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# 1. torn writes ------------------------------------------------------------------------


def _file_size_limit(limit: int) -> Any:
    def preexec() -> None:
        # As `ulimit -f`: a write past `limit` bytes writes what fits, then fails with
        # EFBIG (SIGXFSZ ignored, as a shell that traps it would).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_file_size_limit_then_rerun_is_byte_identical(
    emu: EmulatorThread,
    env: dict[str, str],
    reference: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Under `ulimit -f` the export stops with one line and exit 1, the checkpoint records
    only whole lines that reached the disk, and a rerun without the limit finishes the
    same bytes as an uninterrupted run (no torn line, no duplicates)."""
    out = tmp_path / "out.ndjson"
    limit = int(len(reference) * 0.55) + 7  # mid-line, on purpose
    limited = subprocess.run(
        [sys.executable, "-m", "trailsweep", *args(out)], env=env, capture_output=True,
        stdin=subprocess.DEVNULL, timeout=120, check=False, preexec_fn=_file_size_limit(limit),
    )  # fmt: skip
    err = limited.stderr.decode()
    assert limited.returncode == 1, err
    one_line(err, str(out))
    assert "resume" in err
    written = out.read_bytes()
    assert written == reference[: len(written)]  # only whole lines are left
    assert written.endswith(b"\n") or written == b""
    ckpt = ckpt_mod.load(ckpt_mod.default_path(out))
    assert not ckpt.finished
    assert ckpt.offset == len(written)
    code, err = cli(args(out), capsys)
    assert code == 0, err
    assert _sha(out.read_bytes()) == _sha(reference)
