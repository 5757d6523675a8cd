"""Long runs in a hostile world: shared quotas, faults, expiring credentials, failing
pairs, signals, secrets, progress. All against the emulator over real HTTP."""

from __future__ import annotations

import dataclasses
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from aiohttp import web

from trailsweep.emulator import EmulatorThread
from trailsweep.emulator.tamper import Call, Honest
from trailsweep.engine.pair import SweepEvent
from trailsweep.engine.sweep import SweepReport, sweep
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.settings.config import Options, SweepSettings, build_config
from trailsweep.settings.timeparse import format_time, from_epoch
from trailsweep.testing import ManualClock

from inproc import run_here
from support import NOW_EPOCH, aws_env, expected_line, expected_ndjson, run_cli, settings, wait_for

START, END = NOW_EPOCH - 3 * 3600, NOW_EPOCH - 1


def _config(emu: EmulatorThread, **kw: Any) -> SweepSettings:
    info = emu.emulator.ready_info()
    opts = Options(
        start_time=format_time(from_epoch(kw.pop("start", START))),
        end_time=format_time(from_epoch(END)),
        **kw,
    )
    cfg = build_config(opts, now=datetime.now(UTC))
    return dataclasses.replace(
        cfg, endpoint_url=info["url"], region=info["region"],
        access_key_id=info["access_key_id"], secret_access_key=info["secret_access_key"],
    )  # fmt: skip


def _collect(
    cfg: SweepSettings, on_event: Callable[[SweepEvent, int], None]
) -> tuple[list[bytes], SweepReport]:
    """Run a sweep in-process; `on_event(event, count)` sees each event as it is written."""
    report = SweepReport()
    lines: list[bytes] = []

    async def run() -> None:
        async with aclosing(sweep(cfg, report=report)) as events:
            async for event in events:
                lines.append(event.line())
                on_event(event, len(lines))

    anyio.run(run)
    return lines, report


def _args(out: Path, *extra: str) -> list[str]:
    return [
        "sweep", "--accounts", "org", "--regions", "all",
        "--start-time", format_time(from_epoch(START)), "--end-time", format_time(from_epoch(END)),
        "--output", str(out), *extra,
    ]  # fmt: skip


def test_shared_quota_adapts_and_recovers() -> None:
    """Another caller takes half the quota: under 4% of calls are throttled, every event
    arrives, and the pace climbs back to the full quota once the other caller stops.

    About 1.2% is what the adaptation does (README); the bound is wider because at 100
    calls/s what the emulator counts depends on the machine's load: its bucket of 2 holds
    20 ms of the 50 calls/s left, and a loaded 2-core machine delays calls by more than
    that, unevenly (2.6% seen at load 24 with two CPU hogs). A pace that did not adapt
    fails the pair; a gentler back-off (beta 0.95, no plateau) had 6.5% throttled."""
    quota = 100.0
    s = settings(
        members=0, suspended=0, regions=("us-east-1",), events_per_day=50_000.0, skew=1.0,
        faults={"rate": quota, "burst": 2.0, "other_caller_share": 0.5},
    )  # fmt: skip
    with EmulatorThread(s) as emu:
        cfg = _config(emu, page_size=5, rate=quota, start=NOW_EPOCH - 2 * 3600)
        shared: dict[str, float] = {}

        def watch(event: SweepEvent, _: int) -> None:
            pair = event.pair
            if pair.calls >= 500 and emu.emulator.faults.other_caller_share:
                emu.set_faults(other_caller_share=0.0)
                shared.update(calls=pair.calls, throttled=pair.throttled, rate=pair.rate)
            elif "rate" in shared:  # the best pace after the other caller stopped
                shared["peak"] = max(shared.get("peak", 0.0), pair.rate)

        lines, report = _collect(cfg, watch)
        (pair,) = report.pairs
        account = emu.emulator.world.management.id
        truth = emu.truth(account, "us-east-1", start=NOW_EPOCH - 2 * 3600, end=END)
    assert lines == [expected_line(account, "us-east-1", e) for e in truth]
    assert shared["calls"] >= 500, "the sweep must be long enough to see both phases"
    assert shared["rate"] < 0.7 * quota  # it had adapted to its half
    assert shared["throttled"] / shared["calls"] < 0.04, shared
    assert pair.throttled / pair.calls < 0.04, (pair.throttled, pair.calls)
    # Recovered: the pace climbed back to the quota. The peak, not the last rate: on a
    # loaded machine a late burst can cost one throttle near the end (seen on a 2-core box
    # running five other suites), which is the adaptation working, not a failure to recover.
    assert shared["peak"] >= 0.95 * quota


def test_faults_do_not_change_the_output(tmp_path: Path) -> None:
    """5% 5xx, 1% connection resets and latency jitter: output equals the ground truth."""
    faults = {"rate": 50.0, "burst": 50.0, "error_rate": 0.05, "reset_rate": 0.01,
              "latency_ms": 5.0, "jitter_ms": 30.0}  # fmt: skip
    s = settings(members=2, suspended=0, events_per_day=1000.0, faults=faults)
    with EmulatorThread(s) as emu:
        out = tmp_path / "out.ndjson"
        result = run_here(_args(out, "--rate", "50", "--page-size", "5"), env=aws_env(emu))
        assert result.returncode == 0, result.stderr.decode()
        pairs = [(a.id, r) for a in emu.emulator.world.accounts for r in ("us-east-1", "eu-west-1")]
        assert out.read_bytes() == expected_ndjson(emu, pairs, start=START, end=END)
        errors = emu.stats()["totals"]["errors"]
    assert errors >= 5  # the faults really happened


def test_credentials_expiring_mid_sweep_are_refreshed() -> None:
    """Sessions expire (on the server's clock) during the sweep: ExpiredTokenException,
    refresh, no failure, no lost event."""
    clock = ManualClock(wall=time.time())
    # An hour: beyond botocore's own 15-minute early refresh, so only the server's clock,
    # moved by the test, makes sessions expire.
    faults = {"rate": 1e6, "burst": 1e6, "credential_ttl": 3600.0}
    s = settings(members=2, suspended=0, events_per_day=1000.0, faults=faults)
    with EmulatorThread(s, clock=clock) as emu:
        cfg = _config(emu, accounts=["org"], regions=["us-east-1"], page_size=5, rate=100.0)

        def expire(_: SweepEvent, count: int) -> None:
            if count % 25 == 0:
                emu.call(clock.advance, 3601)  # every session issued so far expires

        lines, report = _collect(cfg, expire)
        pairs = [(a.id, "us-east-1") for a in emu.emulator.world.accounts]
        expected = expected_ndjson(emu, pairs, start=START, end=END)
        expired = emu.call(lambda: emu.emulator.auth_failures["ExpiredTokenException"])
        issued = emu.emulator.world.sessions_issued
    assert b"".join(lines) == expected
    assert report.exit_code == 0, [p.error for p in report.failed]
    assert expired > 0
    assert issued > 2  # more AssumeRole sessions than member accounts: refreshed


def test_a_session_expiring_every_other_page_does_not_fail_the_pair() -> None:
    """The server's clock jumps past the member's session with every other page the
    member pair is served, so every other page costs a refresh: the pair still completes.
    A refresh does not draw on the retry budget (5 a retry, 1 back a page: drawing, the
    pair failed after 32 retries; sessions expiring every few pages, with the timing of a
    loaded machine, did the same in test_credentials_expiring_mid_sweep_are_refreshed)."""
    clock = ManualClock(wall=time.time())
    # NextTokens outlive the jumps: with each page's token refused as well, a second
    # holding more events than a page is never got past (Pager.pages, ChainCheck).
    faults = {"rate": 1e6, "burst": 1e6, "credential_ttl": 3600.0, "token_ttl": 1e9}
    s = settings(members=1, suspended=0, events_per_day=3000.0, faults=faults)
    with EmulatorThread(s, clock=clock) as emu:
        member = emu.emulator.world.accounts[1].id
        served = {"pages": 0}

        async def expire_every_other_page(call: Call, honest: Honest) -> web.StreamResponse:
            # Only calls that passed authentication come here: this one is answered, the
            # pair's next is refused as expired, and its retry after the refresh is not.
            if call.operation == "LookupEvents" and call.account == member:
                served["pages"] += 1
                if served["pages"] % 2:
                    clock.advance(3601)
            return await honest()

        emu.set_tamper(expire_every_other_page)
        cfg = _config(emu, accounts=[member], regions=["us-east-1"], page_size=5, rate=100.0)
        # One chain: with time slices each chain's pages also move the server's clock, so
        # a chain's retry after its refresh can find the session expired again by another
        # chain's page, 8 times in a row on a loaded machine (more chains, more overlap).
        cfg = dataclasses.replace(cfg, slices=False)
        lines, report = _collect(cfg, lambda _event, _count: None)
        expected = expected_ndjson(emu, [(member, "us-east-1")], start=START, end=END)
        expired = emu.call(lambda: emu.emulator.auth_failures["ExpiredTokenException"])
    assert report.exit_code == 0, [p.error for p in report.failed]
    assert b"".join(lines) == expected
    assert expired > 100 / (5 - 1), expired  # more than the budget could pay for


def test_denied_account_and_disabled_region_fail_alone(tmp_path: Path) -> None:
    """The other pairs' output equals their truth; the summary names both failures; exit 1."""
    with EmulatorThread(settings(members=3, suspended=0, faults={"rate": 50.0})) as emu:
        members = [a.id for a in emu.emulator.world.accounts[1:]]
        emu.set_faults(deny_accounts=[members[0]], disabled_regions={members[1]: ["eu-west-1"]})
        out = tmp_path / "out.ndjson"
        summary = tmp_path / "summary.json"
        result = run_here(
            [*_args(out, "--summary-json", str(summary))[:1], "--accounts", "org",
             "--regions", "us-east-1,eu-west-1", *_args(out)[5:], "--summary-json", str(summary),
             "--rate", "50"],
            env=aws_env(emu),
        )  # fmt: skip
        healthy = [
            (a.id, r)
            for a in emu.emulator.world.accounts
            for r in ("us-east-1", "eu-west-1")
            if a.id != members[0] and (a.id, r) != (members[1], "eu-west-1")
        ]
        expected = expected_ndjson(emu, healthy, start=START, end=END)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert out.read_bytes() == expected
    assert f"{members[0]}/us-east-1: AccessDeniedException" in err
    assert f"{members[1]}/eu-west-1: UnrecognizedClientException" in err
    doc = orjson.loads(summary.read_bytes())
    assert doc["exit_code"] == 1
    assert {f"{f['account']}/{f['region']}" for f in doc["failures"]} == {
        f"{members[0]}/us-east-1",
        f"{members[0]}/eu-west-1",
        f"{members[1]}/eu-west-1",
    }


def test_sigint_checkpoints_exits_130_and_resumes_identically(tmp_path: Path) -> None:
    """SIGINT mid-sweep: exit 130, a consistent checkpoint; resuming gives the same bytes."""
    with EmulatorThread(settings(members=4, suspended=0)) as emu:
        env = aws_env(emu)
        out = tmp_path / "out.ndjson"
        ckpt = ckpt_mod.default_path(out)
        proc = subprocess.Popen(
            [sys.executable, "-m", "trailsweep", *_args(out, "--rate", "2")], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        wait_for(lambda: ckpt.exists() and ckpt_mod.load(ckpt).written > 100, timeout=60, proc=proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err.decode()
        state = ckpt_mod.load(ckpt)
        assert not state.finished
        assert out.stat().st_size == state.offset
        assert b"Traceback" not in err
        resumed = run_here(_args(out, "--rate", "20"), env=env)
        assert resumed.returncode == 0, resumed.stderr.decode()
        accounts = sorted(a.id for a in emu.emulator.world.accounts)
        pairs = [(a, r) for a in accounts for r in ("eu-west-1", "us-east-1")]
        want = expected_ndjson(emu, pairs, start=START, end=END)
    assert out.read_bytes() == want


def test_no_secret_reaches_output_logs_or_checkpoints(tmp_path: Path) -> None:
    """Grep everything a verbose, checkpointed, summarized run leaves behind for every key
    and session token the emulator issued: none is there."""
    clock = ManualClock(wall=time.time())
    faults = {"rate": 1e6, "burst": 1e6, "credential_ttl": 900.0}
    with EmulatorThread(settings(members=2, suspended=0, faults=faults), clock=clock) as emu:
        emu.set_faults(deny_accounts=[emu.emulator.world.accounts[1].id])
        out, summary = tmp_path / "out.ndjson", tmp_path / "summary.json"
        result = run_here(
            [*_args(out, "-v", "--summary-json", str(summary), "--checkpoint-interval", "0.01")],
            env=aws_env(emu),
        )
        secrets = emu.emulator.world.issued_secrets()
    assert result.returncode == 1
    assert len(secrets) >= 3
    assert b"ms ok" in result.stderr  # -v logged calls
    blobs = [result.stdout, result.stderr] + [p.read_bytes() for p in tmp_path.iterdir()]
    for secret in secrets:
        for blob in blobs:
            assert secret.encode() not in blob


def test_progress_on_a_terminal_and_only_ndjson_on_stdout() -> None:
    """With stderr a pseudo-terminal, progress is drawn there; stdout stays pure NDJSON."""
    with EmulatorThread(settings(members=2, suspended=0)) as emu:
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "trailsweep", "sweep", "--accounts", "org", "--regions", "all",
             "--start-time", format_time(from_epoch(START)), "--end-time",
             format_time(from_epoch(END))],
            env=aws_env(emu, TERM="xterm", COLUMNS="200"), stdout=subprocess.PIPE, stderr=slave,
        )  # fmt: skip
        os.close(slave)
        screen = b""
        stdout = proc.stdout.read() if proc.stdout else b""
        proc.wait(timeout=60)
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        os.close(master)
    assert proc.returncode == 0
    text = screen.decode(errors="replace")
    assert "pairs" in text and "events" in text and "quota" in text and "window" in text
    lines = stdout.splitlines()
    assert lines
    assert all(orjson.loads(line)["EventId"] for line in lines)


@pytest.mark.parametrize("flag", ["--no-progress", None])
def test_no_progress_when_not_a_terminal(flag: str | None, tmp_path: Path) -> None:
    """Piped stderr (or --no-progress) gets only the summary, no progress bar."""
    with EmulatorThread(settings(members=1, suspended=0, faults={"rate": 50.0})) as emu:
        args = _args(tmp_path / "o.ndjson", "--rate", "50") + ([flag] if flag else [])
        result = run_cli(args, env=aws_env(emu))
    assert result.returncode == 0
    assert b"quota" not in result.stderr
    assert result.stderr.count(b"\n") == 1
