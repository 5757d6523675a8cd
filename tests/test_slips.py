"""Usual slips caught before any call, each with one line that points the right way: an AWS
CLI format name as --output, a mistyped region, a --where that cannot mean what was
typed, an endpoint that refuses connections; and a region not enabled in an account
named as such."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from trailsweep.base.errors import InputError
from trailsweep.cli.app import main
from trailsweep.emulator import EmulatorThread
from trailsweep.settings.filters import parse_where

from inproc import run_here
from support import NOW_EPOCH, UseEmu, aws_env, settings

# The AWS CLI's output formats, as its documentation lists them.
FORMATS = ["json", "text", "table", "yaml", "yaml-stream"]


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(settings(faults={"rate": 1000.0, "burst": 1000.0})) as e:
        yield e


def _refused(emu: EmulatorThread, capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    """Run `trailsweep ARGS` here; assert exit 2, one line, no call; return the line."""
    before = emu.emulator.requests
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    assert exit_info.value.code == 2, captured.err
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert emu.emulator.requests == before
    return lines[0]


@pytest.mark.parametrize("flag", ["--output", "-o"])
@pytest.mark.parametrize("name", FORMATS)
def test_a_format_name_as_output_is_refused(
    emu: EmulatorThread, use_emu: UseEmu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], flag: str, name: str,
) -> None:  # fmt: skip
    """`sweep --output json` (the AWS CLI habit) writes no file named json: one line
    pointing to ./json for a file and to lookup-events --output for formats."""
    use_emu(emu)
    monkeypatch.chdir(tmp_path)
    line = _refused(emu, capsys, ["sweep", flag, name, "--start-time", "1h"])
    assert f"./{name}" in line and f"lookup-events --output {name}" in line
    assert list(tmp_path.iterdir()) == []


def test_a_file_named_like_a_format_is_written_as_dot_slash(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """`-o ./json` is a file of that name, as the refusal says."""
    # A window pinned to the emulator's clock (a relative one moves with the real time and
    # held only 2 events once the suite ran past the hour).
    start, end = NOW_EPOCH - 2 * 86400, NOW_EPOCH
    account = emu.emulator.world.management.id
    assert len(emu.truth(account, "us-east-1", start=start, end=end)) >= 3
    result = run_here(
        ["sweep", "-o", "./json", "--start-time", str(start), "--end-time", str(end),
         "--max-items", "3"],
        env=aws_env(emu), cwd=str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert len((tmp_path / "json").read_bytes().splitlines()) == 3


@pytest.mark.parametrize(
    ("flag", "typed", "closest"),
    [("--regions", "us-eats-1", "us-east-1"),
     ("--regions", "eu-west-1,eu-wset-2", "eu-west-2"),
     ("--region", "ap-southeast-22", "ap-southeast-2"),
     ("--regions", "us-gov-west-9", "us-gov-west-1")],
)  # fmt: skip
def test_an_unknown_region_is_refused_with_the_closest_name(
    emu: EmulatorThread, use_emu: UseEmu, capsys: pytest.CaptureFixture[str],
    flag: str, typed: str, closest: str,
) -> None:  # fmt: skip
    """A region name no partition has is exit 2 before any call, naming the closest."""
    use_emu(emu)
    line = _refused(emu, capsys, ["sweep", flag, typed, "--start-time", "1h"])
    assert flag in line and f"did you mean {closest}?" in line, line


def test_a_region_not_enabled_in_an_account_is_named_as_such(tmp_path: Path) -> None:
    """LookupEvents in a region the account has not enabled answers
    UnrecognizedClientException; the summary says the region is not enabled there."""
    calm = settings(members=1, suspended=0, faults={"rate": 1000.0, "burst": 1000.0})
    with EmulatorThread(calm) as emu:
        member = emu.emulator.world.accounts[1].id
        emu.set_faults(disabled_regions={member: ["eu-west-1"]})
        result = run_here(
            ["sweep", "--accounts", "org", "--regions", "us-east-1,eu-west-1",
             "--start-time", "1h", "-o", str(tmp_path / "out.ndjson")],
            env=aws_env(emu),
        )  # fmt: skip
    err = result.stderr.decode()
    assert result.returncode == 1, err
    failed = [line for line in err.splitlines() if line.startswith("trailsweep: failed")]
    assert len(failed) == 1, err
    assert f"{member}/eu-west-1: UnrecognizedClientException" in failed[0]
    assert f"region eu-west-1 is not enabled in account {member}" in failed[0]


@pytest.mark.parametrize(
    ("clause", "suggested"),
    [("userIdentity.type==", "'userIdentity.type=VALUE'"),
     ("userIdentity.type==Root", "'userIdentity.type=Root'"),
     ("errorCode!==x", "'errorCode!=x'"),
     ("errorCode=~Denied", "'errorCode~Denied'"),
     ("errorCode!=~Denied", "'errorCode!~Denied'"),
     ("userIdentity.type=", "userIdentity.type=VALUE"),
     ("userIdentity.type !=  ", "userIdentity.type!=VALUE")],
)  # fmt: skip
def test_where_clauses_that_cannot_mean_what_was_typed(
    emu: EmulatorThread, use_emu: UseEmu, capsys: pytest.CaptureFixture[str],
    clause: str, suggested: str,
) -> None:  # fmt: skip
    """`==`, `=~` and an empty value are refused before any call with what to write."""
    with pytest.raises(InputError) as info:
        parse_where(clause)
    assert str(info.value).startswith("--where: ") and suggested in str(info.value)
    use_emu(emu)
    line = _refused(emu, capsys, ["sweep", "--where", clause, "--start-time", "1h"])
    assert suggested in line


def test_a_where_path_no_record_has_is_named_in_the_summary(emu: EmulatorThread) -> None:
    """A path in no record of the sweep (a typo) is a warning after the summary; a path
    that some record holds is not named."""
    result = run_here(
        ["sweep", "--start-time", "3h", "--where", "userIdentity.typo!=x",
         "--where", "eventName exists", "--where", "userIdentity.typo.deeper!~y"],
        env=aws_env(emu),
    )  # fmt: skip
    err = result.stderr.decode()
    assert result.returncode == 0, err
    records = len(result.stdout.splitlines())
    assert records > 0  # every record passes: != and !~ hold on an absent field
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert warnings == [
        f"trailsweep: warning: --where path {p} matched no record: none of the {records:,} "
        "records read has that field"
        for p in ("userIdentity.typo", "userIdentity.typo.deeper")
    ], err


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("command", "via"),
    [("sweep", "--endpoint-url"), ("sweep", "AWS_ENDPOINT_URL"),
     ("lookup-events", "--endpoint-url")],
)  # fmt: skip
def test_a_refused_endpoint_fails_fast_naming_it(
    emu: EmulatorThread, use_emu: UseEmu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], command: str, via: str,
) -> None:  # fmt: skip
    """Connection refused: one line naming the endpoint, exit 1, no file, in about a
    second (it took 14-27 s). Run in this process, so the bound measures the run, not an
    interpreter starting on a busy machine; it is loose, to catch only the old wait."""
    use_emu(emu)
    url = f"http://127.0.0.1:{_closed_port()}"
    args = [command, "--start-time", "1h"]
    if command == "sweep":
        args += ["-o", str(tmp_path / "out.ndjson")]
    if via == "--endpoint-url":
        args += ["--endpoint-url", url]
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    started = time.monotonic()
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    took = time.monotonic() - started
    err = capsys.readouterr().err
    assert exit_info.value.code == 1, err
    assert err.count("\n") == 1 and url in err and via in err and "refused" in err, err
    assert took < 10, took
    assert not (tmp_path / "out.ndjson").exists()
