"""Control-plane calls that never answer, or answer 5xx: STS GetCallerIdentity and
AssumeRole, Organizations ListAccounts, Account ListRegions, EC2 DescribeRegions.

Each sweep runs as a real process against the emulator (`Faults.hang_calls` accepts the
call and never answers until the emulator stops; `Faults.fail_calls` answers 500) with
1 s timeouts, and must end well inside 60 s: the whole run's bound is the test of "does
not hang" (before, one member's silent AssumeRole held an organization sweep > 20 min).
A call the sweep cannot start without ends it with one line, exit 1; a call that concerns
one account fails that account alone, and every other pair is written as the truth says.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aioboto3
import anyio
import orjson
import pytest
from aiobotocore.config import AioConfig
from aiohttp import web
from botocore.exceptions import BotoCoreError

from trailsweep.emulator import Emulator, EmulatorThread, Faults, SettingsError
from trailsweep.emulator.tamper import Call, Honest, Tamper

from support import NOW_EPOCH, aws_env, control, member_creds, settings

START, END = NOW_EPOCH - 3 * 3600, NOW_EPOCH
WINDOW = ["--start-time", str(START), "--end-time", str(END), "--rate", "100"]
# Small enough that a silent call is given up on in seconds (3 tries of 1 + 1 s at most),
# large enough that the emulator on a busy machine always answers an honest call in time.
TIMEOUTS = ["--connect-timeout", "1", "--read-timeout", "1"]
BOUND = 60  # seconds a whole sweep may take here; it ran > 20 minutes before


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(settings(faults={"rate": 10_000.0, "burst": 10_000.0})) as e:
        yield e  # leaving the block stops the emulator, which ends every hung call


def sweep(
    emu: EmulatorThread, out: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """`trailsweep sweep` as a process, killed (and the test failed) past BOUND seconds."""
    cmd = [sys.executable, "-m", "trailsweep", "sweep", "--output", str(out), *WINDOW, *TIMEOUTS]
    with subprocess.Popen(
        [*cmd, *args], env=env or aws_env(emu), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    ) as proc:  # fmt: skip
        try:
            _, err = proc.communicate(timeout=BOUND)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail(f"the sweep {args} still ran after {BOUND} s")
    return proc.returncode, err.decode()


def members(emu: EmulatorThread) -> tuple[str, list[str]]:
    world = emu.emulator.world
    active = [a.id for a in world.accounts if a.status == "ACTIVE" and a.id != world.management.id]
    return world.management.id, sorted(active)


def truth_lines(emu: EmulatorThread, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """What the output must hold for `pairs`, from GET /_emulator/truth: each event as
    (account, region, EventTime in ISO 8601 with Z, EventId, the parsed CloudTrailEvent),
    newest first, ties by account, region, then the API's order."""
    keyed = []
    for account, region in pairs:
        path = f"/_emulator/truth?account={account}&region={region}&start={START}&end={END}"
        events = control(emu.emulator.ready_info(), path)["Events"]
        for i, e in enumerate(events):
            line = {
                "account": account, "region": region,
                "EventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e["EventTime"])),
                "EventId": e["EventId"], "CloudTrailEvent": orjson.loads(e["CloudTrailEvent"]),
            }  # fmt: skip
            keyed.append(((-e["EventTime"], account, region, i), line))
    return [line for _, line in sorted(keyed, key=lambda kv: kv[0])]


def written(out: Path, *, leave_out: str = "") -> list[dict[str, Any]]:
    """The output's lines (but those of account `leave_out`), cut to what truth_lines says."""
    keys = ("account", "region", "EventTime", "EventId", "CloudTrailEvent")
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    return [{k: line[k] for k in keys} for line in lines if line["account"] != leave_out]


def failures(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("trailsweep: failed ")]


# 1. A call the whole sweep needs: one line, exit 1, nothing written -------------------

BASE_CALLS = [
    ("sts:GetCallerIdentity", [], "STS GetCallerIdentity"),
    ("organizations:ListAccounts", ["--accounts", "org"], "Organizations ListAccounts"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("call", "args", "what"), BASE_CALLS, ids=[c[0] for c in BASE_CALLS])
def test_a_base_call_that_never_answers_ends_the_sweep_with_one_line(
    emu: EmulatorThread, tmp_path: Path, call: str, args: list[str], what: str
) -> None:
    """The sweep gives up within its bound: one line naming the call and the timeout
    settings, exit 1 (a server fault, not bad input), no file written."""
    emu.set_faults(hang_calls=[call])
    code, err = sweep(emu, tmp_path / "out.ndjson", "--regions", "us-east-1", *args)
    assert code == 1, err
    assert err.splitlines() == [err.strip()], err
    assert err.startswith(f"trailsweep: error: {what} timed out ")
    assert "--connect-timeout 1 s" in err and "--read-timeout" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


# 2. A call that concerns one account: that account fails alone ------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", ["--lean", "--no-lean"])
def test_a_member_whose_assume_role_never_answers_fails_alone(
    emu: EmulatorThread, tmp_path: Path, path: str
) -> None:
    """An organization sweep with one member's AssumeRole silent: each of that member's
    pairs fails with one line naming AssumeRole and the timeouts, every other pair is
    written exactly (exit 1), the whole run within the bound."""
    management, others = members(emu)
    silent, rest = others[0], [management, *others[1:]]
    emu.set_faults(hang_calls=[f"sts:AssumeRole@{silent}"])
    out = tmp_path / "out.ndjson"
    code, err = sweep(emu, out, "--accounts", "org", "--regions", "us-east-1,eu-west-1", path)
    assert code == 1, err
    assert failures(err) == [
        f"trailsweep: failed {silent}/{region}: TimedOut: STS AssumeRole into {silent} timed "
        "out (3 tries, each within --connect-timeout 1 s + --read-timeout 1 s, at most 6 s in "
        "all); raise --read-timeout if the network is this slow"
        for region in ("eu-west-1", "us-east-1")
    ], err
    assert "Traceback" not in err
    good = [(a, r) for a in sorted(rest) for r in ("us-east-1", "eu-west-1")]
    assert written(out) == truth_lines(emu, good)


def _silent_after_first(account: str, gate: asyncio.Event) -> Tamper:
    """The first AssumeRole into `account` answered, every later one silent (until `gate`,
    which the test sets before the emulator stops)."""
    seen = [0]

    async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation == "AssumeRole" and f"::{account}:" in call.params.get("RoleArn", ""):
            seen[0] += 1
            if seen[0] > 1:
                await gate.wait()
        return await honest()

    return tamper


@pytest.mark.timeout(120)
def test_a_credential_refresh_that_never_answers_fails_its_pair_alone(tmp_path: Path) -> None:
    """Sessions of 300 s are renewed before every call (botocore renews within 10 minutes
    of expiry); the member's first AssumeRole answers, its renewal never does. The lean
    path's refresh gives up within the bound: the member's pair fails with one line, what
    it wrote before stays, every other pair is written exactly."""
    fast = {"rate": 10_000.0, "burst": 10_000.0, "credential_ttl": 300.0}
    with EmulatorThread(settings(faults=fast)) as emu:
        management, others = members(emu)
        # The member with the most events: at one a page, it needs a renewal at the second.
        silent = max(others, key=lambda m: len(truth_lines(emu, [(m, "us-east-1")])))
        gate = emu.call(asyncio.Event)
        emu.set_tamper(_silent_after_first(silent, gate))
        out = tmp_path / "out.ndjson"
        try:
            code, err = sweep(emu, out, "--accounts", "org", "--regions", "us-east-1",
                              "--page-size", "1", "--lean")  # fmt: skip
        finally:
            emu.call(gate.set)
        rest = sorted(a for a in [management, *others] if a != silent)
        want = truth_lines(emu, [(a, "us-east-1") for a in rest])
        theirs = truth_lines(emu, [(silent, "us-east-1")])
    assert len(theirs) >= 2 and code == 1, err
    assert [line.split(": ", 3)[1:3] for line in failures(err)] == [
        [f"failed {silent}/us-east-1", "TimedOut"]
    ], err
    assert f"STS AssumeRole into {silent} timed out" in err
    assert written(out, leave_out=silent) == want
    # What the member had before its renewal hung stays written: the newest of its events.
    kept = [line for line in written(out) if line["account"] == silent]
    assert len(kept) < len(theirs) and kept == theirs[: len(kept)]


@pytest.mark.timeout(120)
def test_list_regions_that_never_answers_falls_back_to_describe_regions(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """`--regions all` with the Account API silent: each account's regions come from its
    own DescribeRegions instead, and the whole organization is written (exit 0)."""
    management, others = members(emu)
    emu.set_faults(hang_calls=["account:ListRegions"])
    out = tmp_path / "out.ndjson"
    code, err = sweep(emu, out, "--accounts", "org", "--regions", "all")
    assert code == 0, err
    regions = emu.emulator.world.enabled_regions
    everything = [(a, r) for a in sorted([management, *others]) for r in sorted(regions(a))]
    assert written(out) == truth_lines(emu, everything)


@pytest.mark.timeout(120)
def test_a_member_whose_region_listings_never_answer_fails_alone(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """ListRegions about one member and that member's DescribeRegions both silent: the
    member fails alone with one line naming DescribeRegions; the rest is written (exit 1)."""
    management, others = members(emu)
    silent = others[0]
    emu.set_faults(hang_calls=[f"account:ListRegions@{silent}", f"ec2:DescribeRegions@{silent}"])
    out = tmp_path / "out.ndjson"
    code, err = sweep(emu, out, "--accounts", "org", "--regions", "all")
    assert code == 1, err
    assert failures(err) == [
        f"trailsweep: failed {silent}/*: TimedOut: cannot list regions: EC2 DescribeRegions "
        "timed out (3 tries, each within --connect-timeout 1 s + --read-timeout 1 s, at most "
        "6 s in all); raise --read-timeout if the network is this slow"
    ], err
    regions = emu.emulator.world.enabled_regions
    good = [(a, r) for a in sorted([management, *others[1:]]) for r in sorted(regions(a))]
    assert written(out) == truth_lines(emu, good)


# 3. A server fault is exit 1; a refusal is still exit 2 -------------------------------

FAULTS = [
    ("organizations:ListAccounts", ["--accounts", "org"], "Organizations ListAccounts"),
    ("sts:GetCallerIdentity", [], "STS GetCallerIdentity"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("call", "args", "what"), FAULTS, ids=[c[0] for c in FAULTS])
def test_a_5xx_from_a_base_call_is_a_server_fault_not_bad_input(
    emu: EmulatorThread, tmp_path: Path, call: str, args: list[str], what: str
) -> None:
    """500 on every try: exit 1 and one line naming the call and the server's fault, not
    advice about credentials (exit 2 means bad input, nothing called)."""
    emu.set_faults(fail_calls=[call])
    code, err = sweep(emu, tmp_path / "out.ndjson", "--regions", "us-east-1", *args)
    assert code == 1, err
    assert err.splitlines() == [err.strip()], err
    assert err.startswith(f"trailsweep: error: {what} failed on the server's side ")
    assert "InternalFailure" in err and "HTTP 500" in err
    assert "credentials" not in err and "management account" not in err
    assert list(tmp_path.iterdir()) == []


def test_list_accounts_refused_is_still_credentials_advice(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """ListAccounts as a member (AccessDeniedException): exit 2, one line saying to use
    the management account's credentials."""
    _, others = members(emu)
    creds = member_creds(emu, others[0])
    env = aws_env(
        emu, AWS_ACCESS_KEY_ID=creds["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=creds["aws_secret_access_key"],
        AWS_SESSION_TOKEN=creds["aws_session_token"],
    )  # fmt: skip
    code, err = sweep(emu, tmp_path / "out.ndjson", "--accounts", "org", env=env)
    assert code == 2, err
    assert err.splitlines() == [err.strip()], err
    assert "AccessDeniedException" in err and "management account" in err
    assert list(tmp_path.iterdir()) == []


# 4. The emulator's faults themselves ---------------------------------------------------


def test_a_hung_call_ends_when_the_emulator_stops() -> None:
    """A call held by `hang_calls` ends (its connection dropped) as soon as the emulator
    stops, so no test leaves a handler hanging; stopping does not wait for it."""
    outcome: list[str] = []

    async def main() -> None:
        emu = Emulator(settings(faults={"hang_calls": ["sts:GetCallerIdentity"]}))
        info = emu.ready_info  # the keys are known before the server starts
        patient = AioConfig(read_timeout=600, retries={"mode": "standard", "total_max_attempts": 1})

        async def call() -> None:
            session = aioboto3.Session(
                aws_access_key_id=info()["access_key_id"],
                aws_secret_access_key=info()["secret_access_key"],
            )
            async with session.client(
                "sts", region_name="us-east-1", endpoint_url=emu.url, config=patient
            ) as sts:
                try:
                    await sts.get_caller_identity()
                    outcome.append("answered")
                except BotoCoreError as err:
                    outcome.append(type(err).__name__)

        with anyio.fail_after(30):  # aiohttp would wait 60 s on a handler still running
            async with anyio.create_task_group() as tg, emu:
                tg.start_soon(call)
                await emu.hanging.wait()

    anyio.run(main)
    assert outcome and outcome != ["answered"], outcome


@pytest.mark.parametrize(
    "entry", ["sts:Nope", "lookup:LookupEvents", "sts:AssumeRole@12345", "ec2:DescribeRegions@"]
)
def test_control_faults_name_known_calls_only(entry: str) -> None:
    """`hang_calls` / `fail_calls` take the five control-plane calls, each optionally with
    @ and a 12-digit account: anything else is refused, at start and when changed."""
    with pytest.raises(SettingsError, match="hang_calls"):
        Faults(hang_calls=[entry])
    with pytest.raises(SettingsError, match="fail_calls"):
        Faults().update({"fail_calls": [entry]})
    Faults().update({"fail_calls": ["ec2:DescribeRegions@123456789012", "sts:AssumeRole"]})
