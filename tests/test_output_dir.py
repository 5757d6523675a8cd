"""`sweep --output-dir`: NDJSON parts for log shippers, each visible only once whole, exactly
once across kills and reruns, the same bytes as `--output FILE` when put end to end."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import gzip
import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio
import orjson
import pytest
import zstandard
from aiohttp import web

import trailsweep
from trailsweep.cli.app import main
from trailsweep.emulator import EmulatorThread
from trailsweep.emulator.tamper import Call, Honest
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.output.parts import PartsLayout, PartWriter
from trailsweep.settings.timeparse import format_time, from_epoch
from trailsweep.testing import ManualClock

from inproc import run_here
from support import NOW_EPOCH, UseEmu, aws_env, expected_ndjson, settings, wait_for

START, END = NOW_EPOCH - 3600, NOW_EPOCH - 1
# What a part's name is, as the README states it: the UTC second it was opened, its number.
NAME = re.compile(r"trailsweep-\d{8}T\d{6}Z-(\d{6,})\.ndjson(\.gz|\.zst)?")
CHECKPOINT = ".trailsweep.checkpoint.json"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    """2 accounts x 2 regions, ~950 events in the hour swept, no quota to wait on."""
    fast = settings(members=1, suspended=0, events_per_day=2000.0,
                    faults={"rate": 1e4, "burst": 1e4})  # fmt: skip
    with EmulatorThread(fast) as running:
        yield running


def _args(*extra: str) -> list[str]:
    return [
        "sweep", "--accounts", "org", "--regions", "all", "--no-progress", "--rate", "100",
        "--start-time", format_time(from_epoch(START)),
        "--end-time", format_time(from_epoch(END)), *extra,
    ]  # fmt: skip


def _truth(emu: EmulatorThread) -> bytes:
    accounts = sorted(a.id for a in emu.emulator.world.accounts)
    pairs = [(a, r) for a in accounts for r in ("eu-west-1", "us-east-1")]
    return expected_ndjson(emu, pairs, start=START, end=END)


def _parts(directory: Path) -> list[Path]:
    """The complete parts, in name order (the order they were written)."""
    return sorted(p for p in directory.iterdir() if NAME.fullmatch(p.name))


def _temps(directory: Path) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.startswith(".") and n.endswith(".tmp"))


def _ndjson(part: Path) -> bytes:
    data = part.read_bytes()
    if part.name.endswith(".gz"):
        return gzip.decompress(data)
    if part.name.endswith(".zst"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def _joined(directory: Path) -> bytes:
    return b"".join(_ndjson(p) for p in _parts(directory))


def _numbers(directory: Path) -> list[int]:
    return [int(m.group(1)) for p in _parts(directory) if (m := NAME.fullmatch(p.name))]


def test_parts_end_to_end_are_the_truth_and_what_output_file_writes(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """Parts of at most 16 KiB each, every one ending a line, numbered 1..n in name order,
    and put end to end the emulator's truth in the documented order, byte for byte what
    `--output FILE` writes; run again, the finished sweep is left alone."""
    env = aws_env(emu)
    out, parts = tmp_path / "all.ndjson", tmp_path / "parts"
    parts.mkdir()
    assert run_here(_args("--output", str(out)), env=env).returncode == 0
    done = run_here(_args("--output-dir", str(parts), "--part-size", "16KiB"), env=env)
    assert done.returncode == 0, done.stderr.decode()
    truth = _truth(emu)
    assert _joined(parts) == truth == out.read_bytes()
    found = _parts(parts)
    assert len(found) > 20
    assert _numbers(parts) == list(range(1, len(found) + 1))
    for part in found:
        data = part.read_bytes()
        assert data.endswith(b"\n")
        assert len(data) <= 16 * 1024 or data.count(b"\n") == 1
    assert sorted(os.listdir(parts)) == sorted([*(p.name for p in found), CHECKPOINT])
    state = ckpt_mod.load(parts / CHECKPOINT)
    assert state.finished and state.written == truth.count(b"\n")
    assert [p["name"] for p in (state.parts or {})["parts"]] == [p.name for p in found]

    before = {p.name: p.stat().st_mtime_ns for p in parts.iterdir()}
    again = run_here(_args("--output-dir", str(parts), "--part-size", "16KiB"), env=env)
    assert again.returncode == 0
    assert "is complete" in again.stderr.decode() and "nothing was done" in again.stderr.decode()
    assert {p.name: p.stat().st_mtime_ns for p in parts.iterdir()} == before


def test_a_line_longer_than_the_part_size_is_a_part_of_its_own(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """--part-size 1KiB, lines of ~1.5 KB: one whole line a part, never a line cut."""
    args = _args("--output-dir", str(tmp_path), "--part-size", "1KiB", "--max-items", "12")
    assert run_here(args, env=aws_env(emu)).returncode == 0
    found = _parts(tmp_path)
    assert [p.read_bytes().count(b"\n") for p in found] == [1] * 12
    assert _joined(tmp_path) == b"".join(_truth(emu).splitlines(keepends=True)[:12])


@pytest.mark.parametrize("kind", ["gz", "zst"])
def test_compressed_parts_hold_the_same_bytes(
    emu: EmulatorThread, tmp_path: Path, kind: str
) -> None:
    """--compress gz / zst: every part is named .ndjson.<kind>, decompresses on its own
    (a whole gzip member or zstd frame), is smaller than what it holds, and the parts
    decompressed end to end are the truth."""
    args = _args("--output-dir", str(tmp_path), "--part-size", "64KiB", "--compress", kind)
    done = run_here(args, env=aws_env(emu))
    assert done.returncode == 0, done.stderr.decode()
    found = _parts(tmp_path)
    assert len(found) > 5
    assert all(p.name.endswith(f".ndjson.{kind}") for p in found)
    assert all(p.stat().st_size < len(_ndjson(p)) for p in found)
    assert _joined(tmp_path) == _truth(emu)


class Hold:
    """An emulator tamper: the first `pages` LookupEvents calls are answered, every later
    one waits until `release` is set; `holding` is set when the first one waits."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.served = 0  # the emulator's thread only
        self.holding = threading.Event()
        self.release = threading.Event()

    async def __call__(self, call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation == "LookupEvents":
            self.served += 1
            if self.served > self.pages:
                self.holding.set()
                await asyncio.to_thread(self.release.wait, 120)
        return await honest()


@contextlib.contextmanager
def held(emu: EmulatorThread, pages: int) -> Iterator[Hold]:
    hold = Hold(pages)
    emu.set_tamper(hold)
    try:
        yield hold
    finally:
        hold.release.set()
        emu.set_tamper(None)


def test_a_run_killed_midway_then_run_again_writes_each_event_once(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """A run stopped by the emulator after 16 pages, with parts closed and one being
    written: shippers' globs see only whole parts, a second run is refused (the lock),
    then SIGKILL. Its last recorded part is put back under its temp name, as a kill
    between the checkpoint and the rename leaves it. Run again: that part is renamed
    (not written again), the unrecorded temp part removed, and the parts end to end are
    the truth, each event once, numbered without a gap.

    `--no-slices --read-ahead 0`: a pair asks for its next page only once the merge took
    the last one, so the 16 pages are spread over the 4 pairs and the merge writes lines
    before the hold."""
    env = aws_env(emu)
    args = _args("--output-dir", str(tmp_path), "--part-size", "16KiB", "--page-size", "10",
                 "--no-slices", "--read-ahead", "0")  # fmt: skip
    with held(emu, pages=16) as hold:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trailsweep", *args], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert hold.holding.wait(timeout=120)
            # A file the other process writes: no event can say so (support.wait_for).
            assert wait_for(lambda: bool(_parts(tmp_path) and _temps(tmp_path)), timeout=60)
            # What a shipper's glob sees, even one that matches hidden names as Vector's
            # does: whole parts only.
            names = os.listdir(tmp_path)
            seen = fnmatch.filter(names, "*.ndjson*")
            assert seen and sorted(seen) == [p.name for p in _parts(tmp_path)]
            for name in seen:  # each one whole: every line a JSON object
                assert all(orjson.loads(line) for line in _ndjson(tmp_path / name).splitlines())
            second = run_here(args, env=env)
            assert second.returncode == 2
            assert "being written by another trailsweep" in second.stderr.decode()
        finally:
            proc.kill()
            proc.wait(timeout=30)
    state = ckpt_mod.load(tmp_path / CHECKPOINT)
    recorded = [p["name"] for p in (state.parts or {})["parts"]]
    assert not state.finished and recorded == [p.name for p in _parts(tmp_path)]
    assert len(_temps(tmp_path)) == 1
    # Its temp name, as the README states it: hidden, no ".ndjson" in it, ".tmp" at the end.
    last = recorded[-1]
    (tmp_path / last).rename(tmp_path / f".{last.removesuffix('.ndjson')}.tmp")

    final = run_here(args, env=env)
    assert final.returncode == 0, final.stderr.decode()
    assert _temps(tmp_path) == []
    assert _joined(tmp_path) == _truth(emu)
    assert _numbers(tmp_path) == list(range(1, len(_parts(tmp_path)) + 1))
    assert last in os.listdir(tmp_path)


def test_hooks_hear_every_event_and_every_part_once_it_is_recorded(
    emu: EmulatorThread, use_emu: UseEmu, tmp_path: Path
) -> None:
    """export_parts: `observe` gets every event, in order, before the part holding it
    closes; `on_part` gets each part once it is visible and in the checkpoint, with its
    lines, the sha256 of its NDJSON and its newest and oldest EventTime."""
    use_emu(emu)
    observed: list[str] = []
    told: list[trailsweep.PartInfo] = []

    def observe(events: Sequence[trailsweep.SweepEvent]) -> None:
        observed.extend(e.id for e in events)

    def on_part(info: trailsweep.PartInfo) -> None:
        assert (tmp_path / info.name).is_file()
        state = ckpt_mod.load(tmp_path / CHECKPOINT)
        assert (state.parts or {})["parts"][-1]["name"] == info.name
        assert len(observed) >= sum(p.lines for p in told) + info.lines
        told.append(info)

    s = trailsweep.SweepSettings.build(
        accounts="org", regions="all", start_time=from_epoch(START), end_time=from_epoch(END),
        output_dir=tmp_path, part_size="32KiB", compress="zst",
    )  # fmt: skip
    report = anyio.run(lambda: trailsweep.export_parts(s, observe=observe, on_part=on_part))
    truth = _truth(emu)
    assert report.exit_code == 0 and report.events == truth.count(b"\n")
    assert observed == [orjson.loads(line)["EventId"] for line in truth.splitlines()]
    assert [i.name for i in told] == [p.name for p in _parts(tmp_path)]
    for info in told:
        data = _ndjson(tmp_path / info.name)
        lines = data.splitlines()
        assert (info.lines, info.size) == (len(lines), len(data))
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        first, last = orjson.loads(lines[0])["EventTime"], orjson.loads(lines[-1])["EventTime"]
        assert format_time(from_epoch(info.newest or 0)) == first
        assert format_time(from_epoch(info.oldest or 0)) == last


def test_a_part_closes_on_age_while_no_line_comes(tmp_path: Path) -> None:
    """A part opened at its first line closes `age` seconds later on the clock with no
    other line arriving (a follower's wait between polls): the timer, not a line, closes
    it; committed before it is renamed into view, told after. Virtual time, no sleep."""
    clock = ManualClock()
    events: list[str] = []

    def commit(info: trailsweep.PartInfo) -> None:
        events.append(f"commit {info.number} visible={(tmp_path / info.name).exists()}")

    async def run() -> float:
        told = anyio.Event()

        def on_part(info: trailsweep.PartInfo) -> None:
            events.append(f"on_part {info.number} visible={(tmp_path / info.name).exists()}")
            told.set()

        layout = PartsLayout(tmp_path, size=1 << 20, age=300.0)
        writer = PartWriter(layout, commit=commit, on_part=on_part, clock=clock)
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.close_when_old)
            await anyio.wait_all_tasks_blocked()
            clock.advance(1000.0)  # no part open: time passing closes nothing
            writer.write(b'{"n":1}\n', 1, 100, 100)
            opened = clock.monotonic()
            await told.wait()
            tg.cancel_scope.cancel()
        return clock.monotonic() - opened

    waited = anyio.run(run)
    assert waited == 300.0
    assert events == ["commit 1 visible=False", "on_part 1 visible=True"]
    (part,) = _parts(tmp_path)
    assert part.read_bytes() == b'{"n":1}\n' and _temps(tmp_path) == []


def test_a_sweep_with_part_age_closes_parts_on_the_clock(
    emu: EmulatorThread, use_emu: UseEmu, tmp_path: Path
) -> None:
    """--part-age 5m on a virtual clock, parts far below their size: every part but the
    last closes on age, as soon as the clock reaches it (the sweep's own sleeps on the
    same virtual clock can carry it a second or so past), and the parts end to end hold
    the truth."""
    use_emu(emu)
    clock = ManualClock(wall=time.time())  # AssumeRole sessions expire by the real time
    ages: list[float] = []
    opened: dict[int, float] = {}

    def observe(events: Sequence[trailsweep.SweepEvent]) -> None:
        # the first events of each part: the part number is the next one to be told
        opened.setdefault(len(ages) + 1, clock.monotonic())

    def on_part(info: trailsweep.PartInfo) -> None:
        ages.append(clock.monotonic() - opened[info.number])

    s = trailsweep.SweepSettings.build(
        accounts="org", regions="all", start_time=from_epoch(START), end_time=from_epoch(END),
        output_dir=tmp_path, part_age="5m",
    )  # fmt: skip
    anyio.run(lambda: trailsweep.export_parts(s, clock=clock, observe=observe,
                                              on_part=on_part))  # fmt: skip
    assert len(_parts(tmp_path)) == len(ages) >= 2
    assert all(300.0 <= age < 305.0 for age in ages[:-1]), ages
    assert ages[-1] < 305.0, ages
    assert _joined(tmp_path) == _truth(emu)


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """`directory` takes no new files, for root too (chattr +i where mode bits do not bind)."""
    directory.chmod(0o555)
    immutable = os.access(directory, os.W_OK)
    if immutable:
        subprocess.run(["chattr", "+i", str(directory)], check=True, capture_output=True)
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True, capture_output=True)
        directory.chmod(0o755)


BAD = [
    ("a file", ["--output-dir", "{file}"], "is not a directory"),
    ("missing", ["--output-dir", "{dir}/nope"], "does not exist"),
    ("read-only", ["--output-dir", "{locked}"], "not writable"),
    ("with --output", ["--output-dir", "{dir}", "--output", "{dir}/x.ndjson"], "give one"),
    ("size 0", ["--output-dir", "{dir}", "--part-size", "0"], "--part-size: 0 is out of range"),
    ("size garbage", ["--output-dir", "{dir}", "--part-size", "lots"], "--part-size: cannot read"),
    ("bz2", ["--output-dir", "{dir}", "--compress", "bz2"], "--compress: 'bz2'"),
    ("age alone", ["--part-age", "5m"], "--part-age goes with --output-dir"),
    ("age 0", ["--output-dir", "{dir}", "--part-age", "0"], "--part-age: 0 is out of range"),
    ("checkpoint", ["--output-dir", "{dir}", "--checkpoint", "{dir}/c.json"], "--checkpoint"),
    ("resume", ["--output-dir", "{dir}", "--resume", "{file}"], "--resume"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "needle"), BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_one_line_exit_2_before_anything(
    emu: EmulatorThread, use_emu: UseEmu, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    name: str, args: list[str], needle: str,
) -> None:  # fmt: skip
    """Each refused before any call, nothing created, in one line naming the fix."""
    use_emu(emu)
    (tmp_path / "dir").mkdir()
    (tmp_path / "locked").mkdir()
    (tmp_path / "file").write_bytes(b"mine\n")
    where = {"file": tmp_path / "file", "dir": tmp_path / "dir", "locked": tmp_path / "locked"}
    argv = [a.format(**where) for a in args]
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    calls = emu.emulator.requests
    with read_only(tmp_path / "locked"), pytest.raises(SystemExit) as exit_info:
        main(_args(*argv))
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trailsweep: error: "), captured.err
    assert needle in lines[0]
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "file").read_bytes() == b"mine\n"
    assert emu.emulator.requests == calls


def test_a_config_file_gives_the_part_settings(tmp_path: Path) -> None:
    """The config keys are the flags with `_`: sizes and ages as text or numbers."""
    config = tmp_path / "sweep.toml"
    config.write_text(
        'output_dir = "spool"\npart_size = "10MB"\npart_age = 300\ncompress = "zst"\n'
    )
    s = trailsweep.SweepSettings.from_toml(config)
    assert (s.output_dir, s.part_size, s.part_age, s.compress) == (
        Path("spool"), 10_000_000, 300.0, "zst",
    )  # fmt: skip
    assert trailsweep.SweepSettings.build(output_dir="d", part_size=4096).part_size == 4096
