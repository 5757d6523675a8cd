"""Running an export's command again never replaces a finished export or a file that is
not one, unless --overwrite says so (rerun.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trailsweep.emulator import EmulatorThread
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.settings.timeparse import format_time, from_epoch

from inproc import run_here
from support import NOW_EPOCH, aws_env, expected_ndjson, settings

START, END = NOW_EPOCH - 2 * 3600, NOW_EPOCH - 1
WINDOW = ["--start-time", format_time(from_epoch(START)),
          "--end-time", format_time(from_epoch(END))]  # fmt: skip


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    """Two accounts, two regions, no quota to wait on."""
    fast = settings(members=1, suspended=0, faults={"rate": 1000.0, "burst": 1000.0})
    with EmulatorThread(fast) as e:
        yield e


def _sweep(out: Path, *extra: str) -> list[str]:
    return ["sweep", "--accounts", "org", "--regions", "us-east-1,eu-west-1", "-o", str(out),
            *extra]  # fmt: skip


def _pairs(emu: EmulatorThread) -> list[tuple[str, str]]:
    return [(a.id, r) for a in emu.emulator.world.accounts for r in ("us-east-1", "eu-west-1")]


def _files(*paths: Path) -> list[bytes | None]:
    return [p.read_bytes() if p.exists() else None for p in paths]


def test_a_finished_export_run_again_is_left_alone(emu: EmulatorThread, tmp_path: Path) -> None:
    """A relative window ("2h") would pin a new window: the rerun says the file is
    complete in one line, exits 0, makes no call and changes no byte of it."""
    env = aws_env(emu)
    out = tmp_path / "day.ndjson"
    ckpt = ckpt_mod.default_path(out)
    first = run_here(_sweep(out, "--start-time", "2h"), env=env)
    assert first.returncode == 0, first.stderr.decode()
    assert out.stat().st_size > 0
    before, requests = _files(out, ckpt), emu.emulator.requests
    again = run_here(_sweep(out, "--start-time", "2h"), env=env)
    err = again.stderr.decode()
    assert again.returncode == 0, err
    assert err.count("\n") == 1 and str(out) in err and "complete" in err, err
    assert "--overwrite" in err
    assert _files(out, ckpt) == before
    assert emu.emulator.requests == requests


def test_overwrite_replaces_a_finished_export(emu: EmulatorThread, tmp_path: Path) -> None:
    """Another question over a finished export is refused (exit 2, nothing touched);
    --overwrite starts afresh and writes exactly the new question's events."""
    env = aws_env(emu)
    out = tmp_path / "out.ndjson"
    ckpt = ckpt_mod.default_path(out)
    first = run_here(_sweep(out, *WINDOW, "--max-items", "5"), env=env)
    assert first.returncode == 0, first.stderr.decode()
    assert len(out.read_bytes().splitlines()) == 5
    before = _files(out, ckpt)
    other = run_here(_sweep(out, *WINDOW), env=env)
    err = other.stderr.decode()
    assert other.returncode == 2, err
    assert err.count("\n") == 1 and "max_items" in err and "--overwrite" in err, err
    assert _files(out, ckpt) == before
    fresh = run_here(_sweep(out, *WINDOW, "--overwrite"), env=env)
    assert fresh.returncode == 0, fresh.stderr.decode()
    assert out.read_bytes() == expected_ndjson(emu, _pairs(emu), start=START, end=END)
    assert ckpt_mod.load(ckpt).finished


def test_a_file_without_checkpoint_is_not_replaced(emu: EmulatorThread, tmp_path: Path) -> None:
    """A user's own file at --output: exit 2 with one line, the file as it was, no
    checkpoint made, no call; with --overwrite the export replaces it."""
    env = aws_env(emu)
    out = tmp_path / "notes.ndjson"
    out.write_bytes(b'{"mine": true}\n')
    requests = emu.emulator.requests
    refused = run_here(_sweep(out, *WINDOW), env=env)
    err = refused.stderr.decode()
    assert refused.returncode == 2, err
    assert err.count("\n") == 1 and "no checkpoint" in err and "--overwrite" in err, err
    assert out.read_bytes() == b'{"mine": true}\n'
    assert not ckpt_mod.default_path(out).exists()
    assert emu.emulator.requests == requests
    replaced = run_here(_sweep(out, *WINDOW, "--overwrite"), env=env)
    assert replaced.returncode == 0, replaced.stderr.decode()
    assert out.read_bytes() == expected_ndjson(emu, _pairs(emu), start=START, end=END)


def test_a_finished_export_with_failed_pairs_keeps_exit_1(tmp_path: Path) -> None:
    """Run again, an export that ended with failed pairs says so and exits 1 as it did,
    touching nothing."""
    calm = settings(members=1, suspended=0, faults={"rate": 1000.0, "burst": 1000.0})
    with EmulatorThread(calm) as emu:
        member = emu.emulator.world.accounts[1].id
        emu.set_faults(deny_accounts=[member])
        env = aws_env(emu)
        out = tmp_path / "out.ndjson"
        first = run_here(_sweep(out, *WINDOW), env=env)
        assert first.returncode == 1, first.stderr.decode()
        before = _files(out, ckpt_mod.default_path(out))
        again = run_here(_sweep(out, *WINDOW), env=env)
    err = again.stderr.decode()
    assert again.returncode == 1, err
    assert err.count("\n") == 1 and "2 failed pair" in err and "--overwrite" in err, err
    assert _files(out, ckpt_mod.default_path(out)) == before


@pytest.mark.parametrize(
    ("extra", "needle"),
    [(["--overwrite", "--resume", "x.ndjson"], "--resume"), (["--overwrite"], "--output FILE")],
)
def test_overwrite_misused_is_bad_input(
    emu: EmulatorThread, tmp_path: Path, extra: list[str], needle: str
) -> None:
    """--overwrite with --resume, or without --output: exit 2, one line, nothing made."""
    result = run_here(["sweep", *extra], env=aws_env(emu), cwd=str(tmp_path))
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.count("\n") == 1 and needle in err, err
    assert list(tmp_path.iterdir()) == []
