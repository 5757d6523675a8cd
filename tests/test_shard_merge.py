"""The property that makes shards trustworthy: for every N, the N shards swept for real
(each its own export, some stopped mid-way and resumed) and merged give byte for byte
what one process writes over the same data (settings/shards.py, output/merge_parts.py).

The stops here are in-process: an export cancelled once the emulator has served a
chosen number of pages (an event, never a sleep), which saves its checkpoint as Ctrl-C
does, then the same export again, which resumes it. A SIGKILLed shard resumed is
tests/test_deploy.py's (the engines' own commands) and tests/test_resume.py's."""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
import pytest
from hypothesis import event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import trailsweep
from trailsweep.emulator import EmulatorThread
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.settings.shards import Shard

from support import NOW_EPOCH, LookupPages, expected_ndjson, settings

START, END = NOW_EPOCH - 3 * 3600, NOW_EPOCH - 1
REGIONS = ("us-east-1", "eu-west-1", "ap-south-1")


def _settings(emu: EmulatorThread, shard: Shard | None) -> trailsweep.SweepSettings:
    info = emu.emulator.ready_info()
    return trailsweep.SweepSettings.build(
        accounts="org", regions="all", start_time=str(START), end_time=str(END),
        endpoint_url=info["url"], region=info["region"], rate=100.0, page_size=20,
        access_key_id=info["access_key_id"], secret_access_key=info["secret_access_key"],
        shard=shard,
    )  # fmt: skip


async def _stopped(
    emu: EmulatorThread, sweep: trailsweep.SweepSettings, out: Path, pages: int
) -> bool:
    """The export to `out`, cancelled once the emulator has served `pages` pages to one
    pair of it; whether it was (rather than finishing first)."""
    tamper = LookupPages(pages)
    emu.set_tamper(tamper)
    finished = False
    try:
        async with anyio.create_task_group() as tg:

            async def stop() -> None:
                await anyio.to_thread.run_sync(tamper.enough.wait, abandon_on_cancel=True)
                tg.cancel_scope.cancel()

            tg.start_soon(stop)
            await trailsweep.export(sweep, out, interval=0.05)
            finished = True
            tg.cancel_scope.cancel()
    finally:
        emu.set_tamper(None)
        tamper.enough.set()  # the waiting thread, if still waiting, ends
    return not finished


# Each example sweeps one emulator organization 1 + N times (and stops some shards): on a
# loaded 2-core machine beside three other test workers, six took past the 180 s default.
@pytest.mark.timeout(600)
@hypothesis_settings(max_examples=4, deadline=None)
@given(
    seed=st.integers(0, 100_000),
    count=st.integers(1, 8),
    stops=st.lists(st.tuples(st.integers(0, 7), st.integers(1, 2)), min_size=1, max_size=3),
)
def test_shards_swept_stopped_resumed_and_merged_are_one_process_bytes(
    seed: int, count: int, stops: list[tuple[int, int]]
) -> None:
    emulated = settings(
        members=3, suspended=0, seed=seed, regions=REGIONS, events_per_day=600.0,
        faults={"rate": 1e4, "burst": 1e4, "latency_ms": 20.0},
    )  # fmt: skip
    with EmulatorThread(emulated) as emu, tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        accounts = sorted(a.id for a in emu.emulator.world.accounts)
        truth = expected_ndjson(emu, [(a, r) for a in accounts for r in REGIONS], start=START,
                                end=END)  # fmt: skip
        one = directory / "one.ndjson"
        anyio.run(trailsweep.export, _settings(emu, None), one)
        assert one.read_bytes() == truth and truth.count(b"\n") > 200
        outs = []
        for index in range(count):
            sweep = _settings(emu, Shard(index, count))
            out = directory / f"shard-{index}.ndjson"
            for shard, pages in stops:
                if shard % count == index and anyio.run(_stopped, emu, sweep, out, pages):
                    # Stopped mid-way (maybe again): what it saved resumes.
                    event("a shard stopped mid-way")
                    assert not ckpt_mod.load(ckpt_mod.default_path(out)).finished
            anyio.run(trailsweep.export, sweep, out)
            assert ckpt_mod.load(ckpt_mod.default_path(out)).finished
            outs.append(str(out))
        merged = directory / "merged.ndjson"
        trailsweep.merge_files(outs, merged)
        assert merged.read_bytes() == one.read_bytes()
