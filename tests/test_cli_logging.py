"""stderr of `sweep` and `lookup-events`: `-q` errors only, `-v` lines stamped with UTC time,
`--log-format json` one object per line."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from trailsweep.emulator import EmulatorThread

from inproc import run_here
from support import NOW_EPOCH, aws_env, settings

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
CALL_LINE = re.compile(
    rf"^({STAMP}) trailsweep: (\d{{12}})/([a-z0-9-]+) (\d+)ms (\S+) \(rate [\d.]+/s\)$"
)
# A window pinned to the emulator's clock: two runs of it ask the same question, however
# far apart they start on a busy machine.
WINDOW = ["--start-time", str(NOW_EPOCH - 3 * 3600), "--end-time", str(NOW_EPOCH)]
SWEEP = ["sweep", "--accounts", "org", "--regions", "us-east-1", *WINDOW]


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    """Three active accounts, one of them denied: one pair fails, the others complete."""
    with EmulatorThread(settings(faults={"rate": 1000.0, "burst": 1000.0})) as emu:
        members = [a.id for a in emu.emulator.world.accounts if a.status == "ACTIVE"]
        emu.set_faults(deny_accounts=[members[-1]])
        yield emu


def _denied(emu: EmulatorThread) -> str:
    return str(emu.emulator.faults.deny_accounts[0])


def _when(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def test_quiet_keeps_the_errors_and_drops_the_summary(emu: EmulatorThread) -> None:
    """-q: the same data on stdout, and on stderr only the failed pair, named."""
    loud = run_here(SWEEP, env=aws_env(emu))
    quiet = run_here([*SWEEP, "-q"], env=aws_env(emu))
    assert loud.returncode == quiet.returncode == 1
    assert quiet.stdout == loud.stdout and quiet.stdout
    assert "pairs," in loud.stderr.decode()  # the totals line the quiet run leaves out
    lines = quiet.stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"trailsweep: failed {_denied(emu)}/us-east-1: AccessDenied")


def test_verbose_lines_carry_a_utc_timestamp(emu: EmulatorThread) -> None:
    """-v: every call is one line `<ISO 8601 UTC, ms, Z> trailsweep: account/region Nms
    outcome (rate)`, stamped within the run; the successful calls of each pair are the
    LookupEvents calls the emulator answered for it."""
    before = emu.stats()["pairs"]
    started = time.time()
    result = run_here([*SWEEP, "-v"], env=aws_env(emu))
    ended = time.time()
    assert result.returncode == 1
    stats = emu.stats()["pairs"]
    calls = [m for line in result.stderr.decode().splitlines() if (m := CALL_LINE.match(line))]
    assert calls
    assert all(started - 1 <= _when(m[1]) <= ended + 1 for m in calls)
    ok = Counter(f"{m[2]}/{m[3]}" for m in calls if m[5] == "ok")
    served = {
        pair: s["calls"] - before.get(pair, {"calls": 0})["calls"] for pair, s in stats.items()
    }
    assert ok == {pair: n for pair, n in served.items() if n}
    assert any(m[2] == _denied(emu) and m[5].startswith("AccessDenied") for m in calls)


def _json_lines(stderr: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stderr.splitlines()]


def test_log_format_json_makes_every_stderr_line_an_object(emu: EmulatorThread) -> None:
    """--log-format json -v: each stderr line parses as JSON with ts, level, msg; call
    lines carry their fields; the summary is an object whose event count is stdout's, and
    the failed pair an error object."""
    result = run_here([*SWEEP, "-v", "--log-format", "json"], env=aws_env(emu))
    assert result.returncode == 1
    docs = _json_lines(result.stderr)
    assert all(re.fullmatch(STAMP, d["ts"]) and d["level"] and d["msg"] for d in docs)
    calls = [d for d in docs if d["level"] == "debug"]
    assert calls and all({"account", "region", "ms", "outcome", "rate"} <= set(d) for d in calls)
    summary = [d for d in docs if d["msg"] == "summary"]
    assert len(summary) == 1
    assert summary[0]["events"] == result.stdout.count(b"\n") > 0
    assert summary[0]["failed"] == 1
    errors = [d for d in docs if d["level"] == "error"]
    assert [(d["account"], d["region"]) for d in errors] == [(_denied(emu), "us-east-1")]
    assert errors[0]["msg"].startswith(f"failed {_denied(emu)}/us-east-1: AccessDenied")


def test_log_format_json_quiet_is_the_errors_alone(emu: EmulatorThread) -> None:
    """--log-format json -q: one error object per failed pair, nothing else."""
    result = run_here([*SWEEP, "-q", "--log-format", "json"], env=aws_env(emu))
    assert result.returncode == 1
    docs = _json_lines(result.stderr)
    assert [(d["level"], d["account"]) for d in docs] == [("error", _denied(emu))]


def test_lookup_events_logs_its_calls_as_json(emu: EmulatorThread) -> None:
    """lookup-events -v --log-format json: one object per call on stderr, the document on
    stdout unchanged."""
    args = ["lookup-events", *WINDOW]
    plain = run_here(args, env=aws_env(emu))
    logged = run_here([*args, "-v", "--log-format", "json"], env=aws_env(emu))
    assert plain.returncode == logged.returncode == 0
    assert logged.stdout == plain.stdout
    docs = _json_lines(logged.stderr)
    assert docs and all(d["level"] == "debug" and d["outcome"] == "ok" for d in docs)
    assert run_here([*args, "-q"], env=aws_env(emu)).stderr == b""


@pytest.mark.parametrize("command", [SWEEP, ["lookup-events"]])
@pytest.mark.parametrize(
    ("flags", "named"), [(["-v", "-q"], "--quiet"), (["--log-format", "xml"], "--log-format")]
)
def test_contradictory_or_unknown_log_flags_are_bad_input(
    command: list[str], flags: list[str], named: str
) -> None:
    """-v with -q, or a format other than text/json: exit 2, one line, nothing called."""
    env = {"PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # fmt: skip
    result = run_here([*command, *flags], env=env)
    assert result.returncode == 2
    assert result.stdout == b""
    err = result.stderr.decode()
    assert err.count("\n") == 1 and named in err
