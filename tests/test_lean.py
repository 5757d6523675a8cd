"""The lean LookupEvents path and the aioboto3 client path give the same events and the
same error codes (the benchmarks compare their cost)."""

from __future__ import annotations

import dataclasses
from contextlib import aclosing
from datetime import UTC, datetime

import anyio
import pytest

from trailsweep.emulator import EmulatorThread
from trailsweep.engine.sweep import SweepReport, sweep
from trailsweep.settings.config import Options, SweepSettings, build_config
from trailsweep.settings.timeparse import format_time, from_epoch

from support import NOW_EPOCH, settings


def _cfg(emu: EmulatorThread) -> SweepSettings:
    info = emu.emulator.ready_info()
    opts = Options(
        accounts=["org"], regions=["us-east-1", "eu-west-1"], rate=100.0, page_size=20,
        start_time=format_time(from_epoch(NOW_EPOCH - 3 * 3600)),
        end_time=format_time(from_epoch(NOW_EPOCH)),
    )  # fmt: skip
    return dataclasses.replace(
        build_config(opts, now=datetime.now(UTC)), endpoint_url=info["url"],
        region=info["region"], access_key_id=info["access_key_id"],
        secret_access_key=info["secret_access_key"],
    )  # fmt: skip


def _run(cfg: SweepSettings, lean: bool) -> tuple[list[bytes], SweepReport]:
    report = SweepReport()

    async def go() -> list[bytes]:
        async with aclosing(sweep(dataclasses.replace(cfg, lean=lean), report=report)) as events:
            return [e.line() async for e in events]

    return anyio.run(go), report


@pytest.mark.parametrize("deny", [False, True])
def test_both_paths_agree(deny: bool) -> None:
    """Same lines in the same order; a denied account fails the same way on both."""
    faults = {"rate": 200.0, "burst": 200.0}
    with EmulatorThread(settings(members=2, suspended=0, faults=faults)) as emu:
        if deny:
            emu.set_faults(deny_accounts=[emu.emulator.world.accounts[1].id])
        lean_lines, lean_report = _run(_cfg(emu), lean=True)
        boto_lines, boto_report = _run(_cfg(emu), lean=False)
    assert lean_lines == boto_lines
    assert len(lean_lines) > 50
    assert [p.error for p in lean_report.failed] == [p.error for p in boto_report.failed]
    assert len(lean_report.failed) == (2 if deny else 0)
