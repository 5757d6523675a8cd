"""The progress display as a user sees it: `trailsweep sweep` with stderr a pseudo-terminal
of 80 (and 60) columns, against an emulator that answers every call 150 ms late, so the
sweep takes a few seconds and draws many frames. Every frame is read back from the
terminal and checked against what the display promises (README, "Progress")."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass
from itertools import pairwise

import pytest

from trailsweep.emulator import EmulatorThread

from support import NOW_EPOCH, aws_env, settings

# One account, its two regions: two pairs, 20 pages of 10 events each at 5 calls/s: the
# client's limiter sets the pace (4 s or so), the emulator never throttles.
ROWS = 24
RATE = 5.0
FAULTS = {"rate": 1000.0, "burst": 1000.0, "latency_ms": 150.0}
# rich redraws a frame by going back to the start of the line and erasing it (and each line
# above that the last frame used): \r then ESC[2K, ESC[1A ESC[2K...
FRAME = re.compile(r"\r(?:\x1b\[[0-9]*[AK])+")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CALLS = re.compile(r"calls ([\d.,-]+)/s of ([\d.,-]+)/s quota")
ETA = re.compile(r"ETA (\d+):(\d\d):(\d\d)")
ELAPSED = re.compile(r"\bin (\d+):(\d\d):(\d\d)")
SUMMARY = re.compile(rb"trailsweep: (\d+) pairs, (\d+) complete, 0 failed; \d+ events in ([\d.]+)s")


@dataclass
class Run:
    returncode: int
    frames: list[str]  # each frame's text, ANSI codes removed, lines joined by "\n"
    summary: re.Match[bytes]


def _sweep_on_a_terminal(columns: int) -> Run:
    """Run the sweep with stderr a pty `columns` wide; read the pty until the process
    closes it (EOF), then split what was drawn into frames."""
    world = settings(members=0, suspended=0, events_per_day=200.0, faults=FAULTS)
    with EmulatorThread(world) as emu:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, columns, 0, 0))
        env = aws_env(emu, TERM="xterm", COLUMNS=str(columns), TRAILSWEEP_PROGRESS_INTERVAL="0.05")
        args = [
            "sweep", "--regions", "all", "--start-time", str(NOW_EPOCH - 86400),
            "--end-time", str(NOW_EPOCH - 1), "--page-size", "10", "--rate", str(RATE),
        ]  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-m", "trailsweep", *args], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave,
        )  # fmt: skip
        os.close(slave)
        screen = b""
        try:
            while True:
                # Bounds a hang only: the sweep takes seconds.
                if not select.select([master], [], [], 90)[0]:
                    raise AssertionError("no output from the sweep for 90 s")
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                screen += chunk
        finally:
            os.close(master)
            returncode = proc.wait(timeout=90)
    head, sep, tail = screen.rpartition(b"trailsweep: ")
    summary = SUMMARY.match(sep + tail)
    assert summary, screen[-500:]
    text = head.decode().replace("\x1b[?25l", "").replace("\x1b[?25h", "")
    frames = [ANSI.sub("", f).replace("\r\n", "\n").strip("\n") for f in FRAME.split(text)]
    return Run(returncode, [f for f in frames if f], summary)


def _seconds(m: re.Match[str]) -> int:
    return int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3])


@pytest.mark.parametrize("columns", [80, 60])
def test_progress_frames_on_a_terminal(columns: int) -> None:
    """No "0/0" frame, calls/s never above the quota beside it, an ETA that never goes up,
    a last frame with every pair done and the real elapsed time, nothing wider than the
    terminal."""
    run = _sweep_on_a_terminal(columns)
    assert run.returncode == 0
    frames = run.frames
    assert len(frames) >= 10, frames
    pairs = int(run.summary[1])
    assert pairs == 2 and int(run.summary[2]) == 2

    for frame in frames:
        assert "0/0" not in frame, frame
        for line in frame.split("\n"):
            assert len(line) <= columns, (line, len(line))
    assert "resolving accounts and regions" in frames[0]

    rates = [(m[1], m[2]) for f in frames for m in [CALLS.search(f)] if m]
    measured = [(float(c), float(q)) for c, q in rates if c != "--"]
    assert len(measured) >= 5, rates
    for calls, quota in measured:
        assert calls <= quota, (calls, quota)
    assert max(q for _, q in measured) == pairs * RATE

    etas = [_seconds(m) for f in frames[:-1] for m in [ETA.search(f)] if m]
    assert len(set(etas)) >= 2, etas
    assert all(a >= b for a, b in pairwise(etas)), etas

    last = frames[-1]
    assert last.startswith("done"), last
    assert f"{pairs}/{pairs} pairs" in last and "ETA" not in last, last
    elapsed = ELAPSED.search(last)
    assert elapsed, last
    # The summary rounds to a tenth of a second, the frame up to a whole one.
    assert abs(_seconds(elapsed) - float(run.summary[3])) <= 1.1, (last, run.summary[0])
