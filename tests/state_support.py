"""Helpers of the incremental-run tests (`sweep --state FILE`): the command, the state file
as the tests state it, held runs, and an emulator whose data clock the test moves."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from trailsweep.emulator import EmulatorThread
from trailsweep.emulator.tamper import Call, Honest
from trailsweep.settings.timeparse import format_time, from_epoch
from trailsweep.testing import ManualClock

from support import NOW_EPOCH, settings

FAST = {"rate": 1e6, "burst": 1e6}  # no throttling: the tests count calls and pages
LOOKBACK = 20 * 60  # the default --lookback (README: "Incremental runs and following")


def sweep_args(start: int, end: int, state: Path, *extra: str, regions: str = "all") -> list[str]:
    """`trailsweep sweep` over [start, end] of the whole organization with `--state`."""
    return [
        "sweep", "--accounts", "org", "--regions", regions, "--rate", "100", "--no-progress",
        "--start-time", format_time(from_epoch(start)),
        "--end-time", format_time(from_epoch(end)),
        "--state", str(state), *extra,
    ]  # fmt: skip


def pairs_of(
    emu: EmulatorThread, regions: tuple[str, ...] = ("eu-west-1", "us-east-1")
) -> list[tuple[str, str]]:
    """Every (account, region) of the emulator's organization (no suspended accounts)."""
    return [(a, r) for a in sorted(x.id for x in emu.emulator.world.accounts) for r in regions]


def names(pairs: list[tuple[str, str]]) -> list[str]:
    return sorted(f"{a}/{r}" for a, r in pairs)


def state_body(path: Path) -> dict[str, Any]:
    """The state file's body, read as its format says: {"sha256": ..., "body": {...}}."""
    doc: dict[str, Any] = orjson.loads(path.read_bytes())
    body: dict[str, Any] = doc["body"]
    return body


def marks(path: Path) -> dict[str, dict[str, Any]]:
    """Every pair's mark in the state file at `path`, by "account/region"."""
    pairs: dict[str, dict[str, Any]] = state_body(path)["pairs"]
    return pairs


def split_lines(data: bytes) -> list[bytes]:
    """NDJSON bytes as lines, each with its newline."""
    return data.splitlines(keepends=True)


def exactly_once(outputs: list[bytes], truth: bytes) -> None:
    """The lines of all `outputs` together are the lines of `truth`, each exactly once."""
    written = Counter(line for out in outputs for line in split_lines(out))
    twice = [line for line, n in written.items() if n > 1]
    assert not twice, f"{len(twice)} lines written more than once: {twice[:2]!r}"
    expected = set(split_lines(truth))
    assert len(expected) == len(split_lines(truth))  # the truth itself has no repeats
    missing, extra = expected - set(written), set(written) - expected
    assert not missing and not extra, f"{len(missing)} missing, {len(extra)} not in the truth"


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`trailsweep ARGS` started in the background, stdout and stderr captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "trailsweep", *args], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip


class HoldLookups:
    """An emulator tamper that serves `pages` LookupEvents pages (answers 200) to any one
    pair, then holds every later LookupEvents call until `release` is set: a run that made
    them is stuck mid-way, with what it wrote so far on disk. `held` is set once a call is
    held (`pages=0`: the run's first call, made after it marked its state pending)."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.held = threading.Event()
        self.release = asyncio.Event()
        self.served: Counter[tuple[str, str]] = Counter()

    async def __call__(self, call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation != "LookupEvents":
            return await honest()
        if self.held.is_set() or self.served[call.account, call.region] >= self.pages:
            self.held.set()
            await self.release.wait()
            return await honest()
        response = await honest()
        if response.status == 200:
            self.served[call.account, call.region] += 1
        return response


@contextmanager
def held(emu: EmulatorThread, pages: int) -> Iterator[HoldLookups]:
    """`HoldLookups(pages)` as `emu`'s tamper; on leaving, every held call is let go (to
    a killed process's closed connection) and the tamper removed."""
    hold = HoldLookups(pages)
    emu.set_tamper(hold)
    try:
        yield hold
    finally:
        emu.set_tamper(None)
        emu.call(hold.release.set)


def killed_when_held(emu: EmulatorThread, args: list[str], env: dict[str, str], pages: int) -> None:
    """Run `trailsweep ARGS` until it is held after `pages` pages of one pair, then
    SIGKILL it (nothing of it runs after)."""
    with held(emu, pages) as hold:
        proc = start(args, env)
        try:
            arrived = hold.held.wait(timeout=120)  # bounds a hang only
        finally:
            proc.kill()
            _, err = proc.communicate(timeout=30)
        assert arrived, err.decode()


class MovingData:
    """An emulator whose data clock the test moves (`step`): in realtime mode its "now"
    is its `now` setting plus how far its clock has moved, so events appear as a test
    steps it, with no sleep. The data start two hours before the hour the suite runs in,
    so every run's end stays in the client's past."""

    def __init__(self, **overrides: Any) -> None:
        # The wall clock starts at the real time: AssumeRole sessions expire an hour after
        # it, and botocore compares that with the real time (test_resume does the same).
        self.clock = ManualClock(wall=time.time())
        begin = datetime.fromtimestamp(NOW_EPOCH - 2 * 3600, UTC)
        kw: dict[str, Any] = {"suspended": 0, "faults": FAST, "realtime": True, "now": begin}
        kw.update(overrides)
        self.emu = EmulatorThread(settings(**kw), clock=self.clock)

    def __enter__(self) -> MovingData:
        self.emu.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.emu.__exit__(*exc)

    def now(self) -> int:
        """The data clock: the newest second whose events exist."""
        return self.emu.call(self.emu.emulator.data_now)

    def step(self, seconds: int) -> None:
        self.clock.advance(seconds)
