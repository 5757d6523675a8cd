"""Concurrency under a hostile network: a sliced pair that must not deadlock,
calls that must time out, and a limiter that must shrug off a stalled process."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from aiohttp import web

from test_limiter import VirtualClock, assert_within_bound, run_virtual
from trailsweep.aws import stalls
from trailsweep.aws.lean import LeanLookup, http_session
from trailsweep.aws.limiter import RateLimiter
from trailsweep.aws.sessions import SessionPool
from trailsweep.base.clock import SYSTEM_CLOCK
from trailsweep.emulator import EmulatorThread
from trailsweep.emulator.tamper import Call, Honest, Tamper
from trailsweep.engine.pager import Pager
from trailsweep.engine.pair import PairContext, PairState
from trailsweep.engine.slices import SlicedPager
from trailsweep.settings.config import Options, SweepSettings, build_config
from trailsweep.settings.timeparse import format_time, from_epoch

from support import NOW_EPOCH, aws_env, expected_ndjson, run_cli, settings

HOUR = 3600


def _config(emu: EmulatorThread, start: int, end: int, **kw: Any) -> SweepSettings:
    info = emu.emulator.ready_info()
    read_ahead = kw.pop("read_ahead", None)
    opts = Options(
        start_time=format_time(from_epoch(start)), end_time=format_time(from_epoch(end)), **kw
    )
    cfg = build_config(opts, now=datetime.now(UTC))
    return dataclasses.replace(
        cfg, endpoint_url=info["url"], region=info["region"], read_ahead=read_ahead,
        access_key_id=info["access_key_id"], secret_access_key=info["secret_access_key"],
    )  # fmt: skip


def _pool(cfg: SweepSettings) -> SessionPool:
    return SessionPool(
        region=cfg.region, endpoint_url=cfg.endpoint_url,
        access_key_id=cfg.access_key_id, secret_access_key=cfg.secret_access_key,
    )  # fmt: skip


# 1. Deadlock ----------------------------------------------------------------------------


class HeadLast:
    """Answers the slices of one pair in the order that used to deadlock (slices.py).

    The head chain (EndTime = the window's end) has a slow first page, so the pair wants
    three chains and splits twice at once: head, `behind` (just below it), `oldest`. The
    oldest slice then fills the read-ahead budget (`fill` calls: its pages plus one in
    hand), and only after that does `behind` get its first page, which has no room to
    wait in. The head's later calls wait for `release` (the test's signal)."""

    def __init__(self, end: int, first_latency: float, fill: int) -> None:
        self.end = end
        self.first_latency = first_latency
        self.fill = fill
        self.head_calls = 0
        self.ends: Counter[int] = Counter()
        self.split = asyncio.Event()
        self.filled = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation != "LookupEvents":
            return await honest()
        end = int(call.params["EndTime"])
        if end == self.end:
            self.head_calls += 1
            if self.head_calls == 1:
                await asyncio.sleep(self.first_latency)  # server latency, not a test wait
            else:
                await self.release.wait()
            return await honest()
        self.ends[end] += 1
        if len(self.ends) >= 2:
            self.split.set()
        await self.split.wait()
        if end == max(self.ends):  # the slice right behind the head
            await self.filled.wait()
            return await honest()
        response = await honest()
        if self.ends[end] >= self.fill:
            self.filled.set()
        return response


async def _until(condition: Callable[[], object], what: str, seconds: float = 30.0) -> None:
    """Poll `condition()` until it holds; fail naming `what` past the deadline."""
    with anyio.move_on_after(seconds):
        while True:
            if condition():
                return
            await anyio.sleep(0.005)  # polling state of this loop, under a deadline
    raise AssertionError(f"not within {seconds} s: {what}")


@pytest.mark.timeout(120)  # a hang fails at fail_after; this bounds anything else
def test_a_finished_head_slice_wakes_the_chain_behind_it() -> None:
    """The head slice ends while the slice behind it holds a page it had no room for:
    dropping the head must wake that chain, or the pair hangs with no calls."""
    emu_settings = settings(
        members=0, suspended=0, regions=("us-east-1",), events_per_day=2000.0, seed=3,
        faults={"rate": 100.0, "burst": 100.0},
    )  # fmt: skip
    end = NOW_EPOCH - 1
    with EmulatorThread(emu_settings) as emu:
        cfg = _config(emu, end - 6 * HOUR, end, rate=20.0, page_size=5)
        # depth 2: the oldest slice holds 3 pages (it may add one while 2 wait) and has
        # its 4th in hand: 4 calls fill the budget.
        tamper = HeadLast(end, first_latency=0.1, fill=4)
        emu.set_tamper(tamper)
        account = emu.emulator.world.management.id
        truth = emu.truth(account, "us-east-1", start=end - 6 * HOUR, end=end)
        got: list[str] = []
        hung = False

        async def run() -> None:
            nonlocal hung
            async with _pool(cfg) as pool, http_session(1) as http:
                await pool.identify()
                url = await pool.endpoint("cloudtrail", "us-east-1")
                client = LeanLookup(http, await pool.credentials(account), "us-east-1", url)
                pair = PairState(account, "us-east-1")
                limiter = RateLimiter(cfg.rate)
                async with anyio.create_task_group() as tg:
                    ctx = PairContext(pair, client, limiter, cfg.query, clock=SYSTEM_CLOCK)
                    # At most 3 chains: 20 calls/s at 0.1 s a page wants 3, and a loaded
                    # machine, measuring a longer first call, would want a 4th.
                    sliced = SlicedPager(ctx, depth=2, task_group=tg, max_chains=3)
                    pages = sliced.pages()
                    got.extend(e.event["EventId"] for e in await anext(pages))
                    assert len(sliced.slices) == 3  # the head was split twice at once
                    head, behind = sliced.slices[0], sliced.slices[1]
                    # `behind` has its first page in hand and no room for it.
                    await _until(lambda: behind.pager.served > 0, "behind got a page")
                    assert not behind.pages and sliced.held > sliced.depth
                    emu.call(tamper.release.set)
                    # Read the head to its end, without ever waiting on an empty head.
                    while True:
                        await _until(lambda: head.pages or head.done, "the head moves")
                        if not head.pages:
                            break
                        got.extend(e.event["EventId"] for e in await anext(pages))
                    await anyio.wait_all_tasks_blocked()  # the chains saw the head end
                    # Hung: no page for 20 s (the bug: no page ever). A bound on each page,
                    # not on the rest of the pair, which a loaded machine makes slow.
                    while True:
                        batch = None
                        with anyio.move_on_after(20) as waited:
                            batch = await anext(pages, None)
                        hung = waited.cancelled_caught
                        if batch is None:
                            break
                        got.extend(e.event["EventId"] for e in batch)
                    tg.cancel_scope.cancel()

        anyio.run(run)
        assert not hung, "the pair hung after its head slice ended"
        assert got == [e["EventId"] for e in truth]


# 2. Timeouts ----------------------------------------------------------------------------


def _silent_in(region: str, gate: asyncio.Event) -> Tamper:
    """A tamper under which LookupEvents in `region` is accepted and never answered (until
    `gate` is set, which only the test's cleanup does, so the emulator can stop)."""

    async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation == "LookupEvents" and call.region == region:
            await gate.wait()
        return await honest()

    return tamper


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", ["--lean", "--no-lean"])
def test_a_call_that_never_answers_times_out_and_fails_its_pair_alone(path: str) -> None:
    """LookupEvents in one region hangs forever: that pair fails within a bounded time
    with one line naming the read timeout; the other pair is written whole (exit 1)."""
    with EmulatorThread(settings(faults={"rate": 100.0, "burst": 100.0})) as emu:
        gate = emu.call(asyncio.Event)
        emu.set_tamper(_silent_in("eu-west-1", gate))
        account = emu.emulator.world.management.id
        end = NOW_EPOCH - 1
        start = end - 2 * HOUR
        args = [
            sys.executable, "-m", "trailsweep", "sweep", "--regions", "us-east-1,eu-west-1",
            "--start-time", format_time(from_epoch(start)),
            "--end-time", format_time(from_epoch(end)),
            "--read-timeout", "0.2", path,
        ]  # fmt: skip
        try:
            with subprocess.Popen(
                args, env=aws_env(emu), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
            ) as proc:  # fmt: skip
                try:
                    # Far below the 378-514 s it took before, far above 3 x 0.2 s + backoff.
                    out, err = proc.communicate(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                    pytest.fail("the sweep did not give up on a server that never answers")
        finally:
            emu.call(gate.set)
        want = expected_ndjson(emu, [(account, "us-east-1")], start=start, end=end)
    assert proc.returncode == 1, err.decode()
    assert out == want
    failed = [line for line in err.decode().splitlines() if "failed " in line]
    assert failed == [
        f"trailsweep: failed {account}/eu-west-1: TimedOut: LookupEvents timed out 3 times "
        "in a row (no answer within 0.2 s); raise --read-timeout if the network is this slow"
    ]
    assert "Traceback" not in err.decode()


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--read-timeout", "0"), ("--connect-timeout", "-1"), ("--read-timeout", "inf")],
)
def test_bad_timeouts_are_refused_before_any_call(flag: str, value: str) -> None:
    """A timeout that is not a positive number of seconds: one line, exit 2."""
    result = run_cli(["sweep", "--regions", "us-east-1", flag, value])
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and flag in lines[0], lines
    assert result.stdout == b""


# 3. A stalled process -------------------------------------------------------------------


def _stalled_pair(chains: int, calls: int) -> tuple[list[float], float, RateLimiter]:
    """`chains` NextToken chains of one pair (2 calls/s, 0.3 s a call) on a virtual clock;
    when the clock passes 5 s the process is stopped for 3 s (SIGSTOP, a suspended laptop):
    the clock jumps and every waiter wakes late. Returns the times calls went out, when the
    process woke, and the limiter."""
    times: list[float] = []
    woke = 0.0
    limiter: RateLimiter | None = None

    async def main(clock: VirtualClock) -> None:
        nonlocal woke, limiter
        limiter = RateLimiter(2.0, clock=clock)

        async def chain() -> None:
            nonlocal woke
            for _ in range(calls):
                await limiter.acquire()
                times.append(clock.now)
                await clock.sleep(0.3)  # the call
                if clock.now >= 5.0 and not woke:
                    clock.now += 3.0  # stopped mid-call: nothing runs for 3 s
                    woke = clock.now

        async with anyio.create_task_group() as tg:
            for _ in range(chains):
                tg.start_soon(chain)

    run_virtual(main)
    assert limiter is not None
    return sorted(times), woke, limiter


@pytest.mark.parametrize("chains", [1, 4])
def test_after_a_stall_the_pace_recovers_at_once_and_is_not_repaid(chains: int) -> None:
    """After a 3 s stall, calls resume at once at 2/s: not spread by the stall for minutes,
    not faster than 2/s to catch up (the quota would throttle), rate unchanged."""
    times, woke, limiter = _stalled_pair(chains, calls=240 // chains)
    assert_within_bound(times, rate=2.0, burst=1.0)
    after = [t for t in times if t >= woke]
    # From waking on, the k-th call goes out by k intervals (a hair of tolerance): the
    # stall is neither repaid nor dragged along.
    for k, t in enumerate(after):
        assert t <= woke + 0.5 * k + 0.05, (k, t - woke)
    assert limiter.rate == 2.0


@pytest.mark.timeout(60)
def test_a_stall_during_a_call_is_not_read_as_server_latency() -> None:
    """The process stands still for 1.5 s while a call is in flight (a blocked event loop,
    as in a GC pause or SIGSTOP): the pair's latency, which decides how many time-slice
    chains it runs, is the server's, not the stall's."""
    with EmulatorThread(settings(faults={"rate": 100.0, "burst": 100.0})) as emu:
        arrived, stalling = threading.Event(), threading.Event()

        async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
            if call.operation == "LookupEvents":
                arrived.set()
                await asyncio.to_thread(stalling.wait, 30)  # answer while the client stalls
            return await honest()

        emu.set_tamper(tamper)
        end = NOW_EPOCH - 1
        cfg = _config(emu, end - HOUR, end, regions=["us-east-1"])
        account = emu.emulator.world.management.id
        pair = PairState(account, "us-east-1")

        async def run() -> None:
            async with _pool(cfg) as pool, http_session(1) as http:
                await pool.identify()
                url = await pool.endpoint("cloudtrail", "us-east-1")
                client = LeanLookup(http, await pool.credentials(account), "us-east-1", url)
                async with anyio.create_task_group() as tg:
                    watch = stalls.start(SYSTEM_CLOCK, tg)
                    pager = Pager(
                        PairContext(pair, client, RateLimiter(2.0), cfg.query, watch=watch)
                    )

                    async def stall() -> None:
                        await anyio.to_thread.run_sync(arrived.wait, 30)
                        stalling.set()
                        time.sleep(1.5)  # noqa: ASYNC251 - the stall itself: nothing runs

                    tg.start_soon(stall)
                    page = await pager.call(cfg.query.api_params(None), None)
                    tg.cancel_scope.cancel()
            assert page["Events"]

        anyio.run(run)
        assert stalling.is_set()
        assert pair.latency < 0.5, pair.latency
