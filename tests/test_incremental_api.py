"""Incremental runs from Python: `trailsweep.export` and `export_parts` with `state` in
the settings do what `sweep --state` does; the streams refuse what only a run that writes
can do."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

import trailsweep
from trailsweep.testing import ManualClock, running_emulator

from support import NOW_EPOCH, expected_ndjson

REGIONS = ("us-east-1", "eu-west-1")


def test_export_with_a_state_writes_only_what_is_new(tmp_path: Path) -> None:
    # The data clock four hours back, so that each run's --end-time (the data clock) is
    # in the past, as a pinned end must be; sessions long enough for the client, which
    # checks their expiry against the real clock.
    past = NOW_EPOCH - 4 * 3600
    clock = ManualClock(wall=past)
    with running_emulator(
        seed=4, members=1, suspended=0, regions=REGIONS, realtime=True, clock=clock,
        now=datetime.fromtimestamp(past, UTC), faults={"credential_ttl": 8 * 3600.0},
    ) as emu:  # fmt: skip
        start = emu.now - 3600
        files = []
        for k in range(3):
            settings = trailsweep.SweepSettings.build(
                accounts="org", regions=",".join(REGIONS), start_time=str(start),
                end_time=str(emu.now), state=str(tmp_path / "api.state"), **emu.connection,
            )  # fmt: skip
            out = tmp_path / f"run{k}.ndjson"
            report = anyio.run(trailsweep.export, settings, out)
            assert report.exit_code == 0
            files.append(out)
            clock.advance(900)
        pairs = [(a, r) for a in emu.accounts for r in REGIONS]
        whole = expected_ndjson(emu.thread, pairs, start=start, end=emu.now - 900)
        got = b"".join(f.read_bytes() for f in files)
        assert sorted(got.splitlines()) == sorted(whole.splitlines())
        assert files[1].read_bytes() and files[2].read_bytes()  # each run wrote what was new


def test_streams_refuse_state_and_follow() -> None:
    with running_emulator(seed=4, members=1, suspended=0, regions=REGIONS) as emu:
        for extra in ({"state": "x.state"}, {"follow": True}):
            settings = trailsweep.SweepSettings.build(**emu.connection, **extra)
            with pytest.raises(trailsweep.InputError, match="state and follow"):
                trailsweep.iter_events(settings)

            async def stream(given: trailsweep.SweepSettings) -> None:
                async with trailsweep.open_sweep(given):
                    pass

            with pytest.raises(trailsweep.InputError, match="state and follow"):
                anyio.run(stream, settings)
