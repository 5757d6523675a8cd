"""Two sweeps in one process do not meet: each owns its stall watch and the credentials it
redacts, and the library leaves the process's open-file limit to the CLI."""

from __future__ import annotations

import asyncio
import dataclasses
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, aclosing, contextmanager
from datetime import UTC, datetime

import anyio
import orjson
from aiohttp import web

from trailsweep.aws import stalls
from trailsweep.aws.lean import LeanLookup, connection_limit, http_session
from trailsweep.aws.limiter import RateLimiter
from trailsweep.aws.sessions import SessionPool
from trailsweep.base.clock import SYSTEM_CLOCK
from trailsweep.emulator.tamper import Call, Honest
from trailsweep.engine.pager import Pager
from trailsweep.engine.pair import PairContext, PairState
from trailsweep.engine.sweep import SweepReport, sweep
from trailsweep.settings.config import Options, SweepSettings, build_config
from trailsweep.settings.timeparse import format_time, from_epoch
from trailsweep.testing import RunningEmulator, running_emulator

HOUR = 3600
FAST = {"rate": 100.0, "burst": 100.0}  # no test here waits on the quota


def _emulator(seed: int) -> AbstractContextManager[RunningEmulator]:
    """An emulator of one account and one region, with a quota no test here waits on."""
    return running_emulator(
        seed, members=0, suspended=0, regions=("us-east-1",), events_per_day=200.0,
        idle_day_share=0.0, diurnal=False, faults=FAST,
    )  # fmt: skip


def _settings(emu: RunningEmulator) -> SweepSettings:
    """The last hour of the management account in us-east-1."""
    end = emu.now - 1
    opts = Options(
        start_time=format_time(from_epoch(end - HOUR)), end_time=format_time(from_epoch(end)),
        regions=[emu.region],
    )  # fmt: skip
    return dataclasses.replace(build_config(opts, now=datetime.now(UTC)), **emu.connection)


@contextmanager
def _soft_open_files(soft: int) -> Iterator[None]:
    """This process's soft open-file limit lowered to `soft` for the block, then put back."""
    was, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (was, hard))


def test_the_library_sizes_its_pool_inside_the_limit_and_leaves_the_limit_alone() -> None:
    """A sweep of 1,000 pairs wants 5,000 connections; under a soft limit of 512 it gets
    256 (256 files kept for the rest) and the limit stays 512: the process's, not ours."""
    with _soft_open_files(512):
        assert connection_limit(1000, 4) == 512 - 256
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 512
        assert connection_limit(1, 1) == 100  # a small sweep: its 100, as before


def test_the_cli_raises_its_soft_open_file_limit_once_at_start() -> None:
    """`trailsweep` started under a soft limit of 512 raises it to the hard limit before
    any command runs (here --version): the CLI process owns its limits."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    script = (
        "import resource\n"
        "from trailsweep.cli.app import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))

    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, preexec_fn=lower, check=True,
        timeout=120,
    )  # fmt: skip
    soft = int(ran.stdout.decode().splitlines()[-1])
    assert soft == (1 << 20 if hard == resource.RLIM_INFINITY else hard), soft


def test_each_sweep_has_its_own_stall_watch() -> None:
    """Two sweeps in one event loop each start a watch of their own (stalls.start, as
    engine.sweep does). The first ending takes nothing from the second: a 1.5 s stall
    of the process during the second's call is counted by the second's watch and not
    read as server latency."""
    with _emulator(seed=1) as emu:
        arrived, stalling = threading.Event(), threading.Event()

        async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
            if call.operation == "LookupEvents":
                arrived.set()
                await asyncio.to_thread(stalling.wait, 30)  # answer while the client stalls
            return await honest()

        emu.thread.set_tamper(tamper)
        cfg = _settings(emu)
        pair = PairState(emu.account, emu.region)

        async def stall() -> None:
            await anyio.to_thread.run_sync(arrived.wait, 30)
            stalling.set()
            time.sleep(1.5)  # noqa: ASYNC251 - the stall itself: nothing runs

        async def run() -> None:
            async with SessionPool(**emu.connection) as pool, http_session(1) as http:
                await pool.identify()
                url = await pool.endpoint("cloudtrail", emu.region)
                creds = await pool.credentials(emu.account)
                client = LeanLookup(http, creds, emu.region, url)
                async with anyio.create_task_group() as second:
                    async with anyio.create_task_group() as first:
                        first_watch = stalls.start(SYSTEM_CLOCK, first)
                        second_watch = stalls.start(SYSTEM_CLOCK, second)
                        first.cancel_scope.cancel()  # the first sweep ends
                    assert first_watch is not None
                    assert second_watch is not None
                    assert first_watch is not second_watch
                    ctx = PairContext(pair, client, RateLimiter(2.0), cfg.query, watch=second_watch)
                    pager = Pager(ctx)
                    second.start_soon(stall)
                    page = await pager.call(cfg.query.api_params(None), None)
                    assert second_watch.stalled() >= 1.0  # it saw the stall: it still runs
                    second.cancel_scope.cancel()
                assert page["Events"]

        anyio.run(run)
        assert stalling.is_set()
        assert pair.latency < 0.5, pair.latency


def test_two_sweeps_at_once_redact_each_its_own_credentials() -> None:
    """Two sweeps run at once in one event loop against two emulators (two seeds, two
    management secrets), each refusing LookupEvents with a message that quotes both
    secrets. Each sweep's failure reason redacts the secret it signed with, and only
    that one: the other is not a credential this sweep holds (one process-wide set
    would have redacted both in both)."""
    with _emulator(seed=1) as one, _emulator(seed=2) as two:
        secrets = (one.secret_access_key, two.secret_access_key)
        assert secrets[0] != secrets[1]

        async def echoing(call: Call, honest: Honest) -> web.StreamResponse:
            if call.operation != "LookupEvents":
                return await honest()
            message = f"denied; known keys: {secrets[0]} and {secrets[1]}"
            body = orjson.dumps({"__type": "AccessDeniedException", "message": message})
            return web.Response(status=400, body=body, content_type="application/x-amz-json-1.1")

        one.thread.set_tamper(echoing)
        two.thread.set_tamper(echoing)
        reports = (SweepReport(), SweepReport())

        async def run(emu: RunningEmulator, report: SweepReport) -> None:
            async with aclosing(sweep(_settings(emu), report=report)) as events:
                async for _ in events:
                    raise AssertionError("every call is refused")

        async def both() -> None:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run, one, reports[0])
                tg.start_soon(run, two, reports[1])

        anyio.run(both)
        for i, report in enumerate(reports):
            (pair,) = report.pairs
            assert pair.failed and pair.error is not None
            assert pair.error.startswith("AccessDeniedException: denied; known keys: "), pair.error
            own, other = secrets[i], secrets[1 - i]
            assert own not in pair.error and other in pair.error, pair.error
