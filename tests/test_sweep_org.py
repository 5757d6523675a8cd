"""An organization-wide sweep (org discovery, AssumeRole, all regions) against the emulator,
at the real 2 calls/s quota, writes exactly the ground truth in the documented order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trailsweep.emulator import EmulatorThread
from trailsweep.timeparse import format_time, from_epoch

from support import NOW_EPOCH, aws_env, expected_ndjson, run_cli, settings

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1")
START, END = NOW_EPOCH - 2 * 3600, NOW_EPOCH - 1


@pytest.fixture(scope="module")
def org() -> Iterator[EmulatorThread]:
    """20 ACTIVE accounts (and one SUSPENDED) x 4 regions, the real 2 calls/s quota."""
    with EmulatorThread(settings(members=20, suspended=1, regions=REGIONS)) as emu:
        yield emu


def _sweep(emu: EmulatorThread, out: Path) -> bytes:
    result = run_cli(
        [
            "sweep", "--accounts", "org", "--regions", "all",
            "--start-time", format_time(from_epoch(START)),
            "--end-time", format_time(from_epoch(END)),
            "--output", str(out),
        ],
        env=aws_env(emu),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""
    return out.read_bytes()


def test_org_sweep_writes_exactly_the_ground_truth_twice(
    org: EmulatorThread, tmp_path: Path
) -> None:
    """Same events, no duplicates, global order with tie-break; byte-identical across runs."""
    world = org.emulator.world
    active = [a.id for a in world.accounts if a.status == "ACTIVE"]
    assert len(active) == 20
    pairs = [(a, r) for a in active for r in REGIONS]
    want = expected_ndjson(org, pairs, start=START, end=END)
    first = _sweep(org, tmp_path / "a.ndjson")
    assert first == want
    lines = first.splitlines()
    assert len(lines) == len(set(lines)) > 200
    stats = org.stats()
    assert stats["totals"]["throttled"] == 0
    assert set(stats["pairs"]) == {f"{a}/{r}" for a, r in pairs}
    for name, pair in stats["pairs"].items():
        assert pair["throttled"] == 0, name
        if pair["calls"] > 2:
            span = pair["last_call"] - pair["first_call"]
            assert (pair["calls"] - 2) / span <= 2.0 + 1e-6, name
    second = _sweep(org, tmp_path / "b.ndjson")
    assert second == first
