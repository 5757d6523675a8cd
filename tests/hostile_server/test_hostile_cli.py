"""Hostile command lines: bad regions, endpoints and paths exit 2 with one line before any
call; and a fuzz of generated command lines never ends in a traceback."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from trailsweep.emulator import EmulatorThread

from inproc import run_main
from support import aws_env, settings


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(settings()) as e:
        yield e


TARGETS: list[tuple[str, list[str], dict[str, str], str]] = [
    ("region empty", ["--region", ""], {}, "--region"),
    ("region spaces", ["--region", "  "], {}, "--region"),
    ("region unicode", ["--region", "üs-east-1"], {}, "--region"),
    ("region path", ["--region", "us-east-1/../x"], {}, "--region"),
    ("region newline", ["--region", "us-east-1\n"], {}, "--region"),
    ("AWS_REGION path", [], {"AWS_REGION": "us-east-1/../x"}, "AWS_REGION"),
    ("AWS_DEFAULT_REGION spaces", [], {"AWS_DEFAULT_REGION": "us east 1"}, "AWS_DEFAULT_REGION"),
    ("AWS_DEFAULT_REGION unicode", [], {"AWS_DEFAULT_REGION": "eu-wést-1"}, "AWS_DEFAULT_REGION"),
    ("endpoint empty", ["--endpoint-url", ""], {}, "--endpoint-url"),
    ("endpoint spaces", ["--endpoint-url", " "], {}, "--endpoint-url"),
    ("endpoint no scheme", ["--endpoint-url", "127.0.0.1:4566"], {}, "--endpoint-url"),
    ("endpoint no host", ["--endpoint-url", "http://"], {}, "--endpoint-url"),
    ("endpoint ftp", ["--endpoint-url", "ftp://127.0.0.1/"], {}, "--endpoint-url"),
    ("endpoint file", ["--endpoint-url", "file:///etc/passwd"], {}, "--endpoint-url"),
    ("endpoint port", ["--endpoint-url", "http://127.0.0.1:99999"], {}, "--endpoint-url"),
    ("endpoint unicode", ["--endpoint-url", "http://ünï.example"], {}, "--endpoint-url"),
    ("endpoint newline", ["--endpoint-url", "http://127.0.0.1\r\nX: y"], {}, "--endpoint-url"),
    ("endpoint query", ["--endpoint-url", "http://127.0.0.1:1/?a=b"], {}, "--endpoint-url"),
    ("endpoint ipv6", ["--endpoint-url", "http://[::1"], {}, "--endpoint-url"),
    ("AWS_ENDPOINT_URL garbage", [], {"AWS_ENDPOINT_URL": "not a url"}, "AWS_ENDPOINT_URL"),
    ("AWS_ENDPOINT_URL_STS", [], {"AWS_ENDPOINT_URL_STS": "sts.local"}, "AWS_ENDPOINT_URL_STS"),
]  # fmt: skip


@pytest.mark.parametrize("command", ["sweep", "lookup-events"])
@pytest.mark.parametrize(("name", "args", "env", "needle"), TARGETS, ids=[t[0] for t in TARGETS])
def test_a_bad_region_or_endpoint_exits_2_before_any_call(
    emu: EmulatorThread, tmp_path: Path, command: str, name: str, args: list[str],
    env: dict[str, str], needle: str,
) -> None:  # fmt: skip
    """A region or endpoint botocore cannot use (or should not): one line, exit 2, no call."""
    before = emu.emulator.requests
    out = ["--output", str(tmp_path / "out.ndjson")] if command == "sweep" else []
    ran = run_main([command, *out, *args], {**aws_env(emu), **env})
    assert ran.code == 2, ran.err
    assert len(ran.err.splitlines()) == 1 and ran.err.startswith(f"trailsweep: error: {needle}:")
    assert emu.emulator.requests == before
    assert ran.out == b"" and list(tmp_path.iterdir()) == []


def test_an_endpoint_with_credentials_is_refused_without_repeating_them(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """user:password@ in an endpoint would go along with every call: refused, not echoed."""
    for args, env in (
        (["--endpoint-url", "http://admin:hunter2secret@127.0.0.1:1"], {}),
        ([], {"AWS_ENDPOINT_URL": "https://admin:hunter2secret@example.com"}),
    ):
        for command in ("sweep", "lookup-events"):
            ran = run_main([command, *args], {**aws_env(emu), **env})
            assert ran.code == 2 and "user name or password" in ran.err
            assert "hunter2secret" not in ran.err and len(ran.err.splitlines()) == 1


def test_empty_region_variables_count_as_unset(emu: EmulatorThread) -> None:
    """AWS_REGION= is how a shell unsets it for one command: not an error."""
    env = {**aws_env(emu), "AWS_REGION": "", "AWS_ENDPOINT_URL_STS": ""}
    ran = run_main(["lookup-events", "--max-items", "1"], env)
    assert ran.code == 0, ran.err


LONG = "x" * 5000
NAME = "n" * 300


def _path_cases(tmp: Path) -> list[tuple[list[str], str]]:
    out = str(tmp / "out.ndjson")
    return [
        (["--output", str(tmp / LONG)], "--output"),
        (["--output", str(tmp / NAME)], "--output"),
        (["--output", str(tmp / ("o" * 250))], "--output"),  # no room for its checkpoint
        (["--output", str(tmp / "a\0b")], "--output"),
        (["--output", ""], "--output"),
        (["--output", out, "--checkpoint", str(tmp / "c\0k")], "--checkpoint"),
        (["--output", out, "--checkpoint", str(tmp / NAME)], "--checkpoint"),
        (["--output", out, "--checkpoint", str(tmp / LONG)], "--checkpoint"),
        (["--summary-json", str(tmp / "s\0")], "--summary-json"),
        (["--summary-json", str(tmp / NAME)], "--summary-json"),
        (["--summary-json", str(tmp / LONG)], "--summary-json"),
        (["--summary-json", ""], "--summary-json"),
        (["--config", str(tmp / "c\0.toml")], "--config"),
        (["--config", str(tmp / LONG)], "--config"),
        (["--config", str(tmp / NAME)], "--config"),
        (["--config", ""], "--config"),
        (["--cli-input-json", "file://" + str(tmp / "i\0")], "--cli-input-json"),
        (["--cli-input-json", "file://" + str(tmp / LONG)], "--cli-input-json"),
        (["--resume", str(tmp / NAME)], "--resume"),
        (["--resume", str(tmp / "r\0")], "--resume"),
    ]


def test_bad_paths_exit_2_before_any_call(emu: EmulatorThread, tmp_path: Path) -> None:
    """NUL, empty, over-long paths and names: one line naming the option, nothing written."""
    for args, needle in _path_cases(tmp_path):
        before = emu.emulator.requests
        ran = run_main(["sweep", *args], aws_env(emu))
        assert ran.code == 2, (args[:2], ran.err)
        assert len(ran.err.splitlines()) == 1, ran.err
        assert ran.err.startswith(f"trailsweep: error: {needle}"), ran.err
        assert emu.emulator.requests == before
        assert list(tmp_path.iterdir()) == []
    for target in (str(tmp_path / LONG), "a\0b", ""):
        ran = run_main(["status", target], aws_env(emu))
        assert ran.code == 2 and len(ran.err.splitlines()) == 1, ran.err


# The fuzz ----------------------------------------------------------------------------------
# Command lines built from the real option names of every subcommand (read from the
# Typer app, so a new option is fuzzed the day it is added) with hostile values, run in
# this process against an emulator. Whatever they do, they must end with an exit code in
# {0, 1, 2, 130}, no traceback, and on exit 2 one line on stderr.

LONG_VALUE = "A" * 20_000
HOSTILE = [
    "", " ", "\t", "\n", "-", "--", "=", ",", ",,", "'", '"', "\\", "%s%n", "../../etc/passwd",
    "ü", "日本語", "\u202e\u0000x", "\x1b[2J\x1b]0;t\x07", "\x7f", "\ud800", "a\x00b",
    LONG_VALUE, "org", "all", "ORG", "null", "None", "true", "-1", "0", "1e309", "nan", "inf",
    "-inf", "99999999999999999999999999", "0x10", "1_0", "\u0663", "2**63",
]  # fmt: skip
NUMBERS = [
    "-1", "0", "-0", "51", "101", "1e-9", "1e309", "nan", "inf", "-inf", "0x10", "1_000",
    "\u0663", "99999999999999999999999999", "9" * 5000, "1.5", "-99999999999", "", " 7 ",
]  # fmt: skip
TIMES = [
    "yesterday", "2026-13-45", "0", "-1", "99999999999", "1e20", "9999-12-31T23:59:59Z",
    "0001-01-01", "1h", "-5d", "100000000d", "99999999999999999999d", "nan", "inf", "1h1",
    "2026-02-30", "T", "Z", "1970-01-01T00:00:00+99:99", "now", "90d", "0s", "1e309",
]  # fmt: skip
JSONS = [
    "{", "[]", "null", "1", '"x"', "{}", '{"StartTime": {}}', '{"MaxResults": 1e400}',
    '{"MaxResults": true}', '{"LookupAttributes": [null]}', '{"LookupAttributes": {}}',
    '{"LookupAttributes": [{"AttributeKey": 1, "AttributeValue": []}]}',
    '{"EndTime": 1e300}', '{"StartTime": "x", "EndTime": null}', '{"NextToken": 5}',
    '{"EventCategory": ["insight"]}', "[" * 5000 + "]" * 5000, '{"a":' * 3000,
    "file:///dev/null", "file:///", "file://", "file:///nonexistent", "file:///dev/zero",
    '[{"AttributeKey": "EventName", "AttributeValue": "\\u0000"}]',
    "AttributeKey=EventName", "AttributeKey=,AttributeValue=",
    "AttributeKey=EventId,AttributeValue=" + "_" * 3000,
]  # fmt: skip
WHERES = ["a", "a=", "=b", "a~(", "a~" + "(a*)*" * 10, "a exists b", "a.b.c=1", "a!~", "..=1"]
PATH_OPTIONS = {"--output", "-o", "--checkpoint", "--summary-json", "--config", "--resume",
                "--env-file"}  # fmt: skip
JSON_OPTIONS = {"--cli-input-json", "--lookup-attributes", "--starting-token", "--next-token"}


def _paths(tmp: Path) -> list[str]:
    """Paths that exist, that cannot, that are directories; devices only where they are
    read (writing next to /dev/null would put checkpoint files in /dev)."""
    return [
        str(tmp), str(tmp / "out.ndjson"), str(tmp / "out.ndjson.checkpoint.json"),
        str(tmp / "sub" / "x"), str(tmp / ("n" * 300)), str(tmp / "x") + "/", "/", ".", "",
        "/nonexistent/dir/file", str(tmp / LONG_VALUE[:5000]), "a\x00b", str(tmp / "ü\x1b"),
    ]  # fmt: skip


READ_ONLY_PATHS = ["/dev/null", "/dev/zero", "/dev/full", "/proc/self/status", "/etc"]


def _option_table() -> dict[str, list[tuple[list[str], bool]]]:
    """Every subcommand's options as (names, is_flag); positional arguments as ([], False)."""
    import click
    import typer

    from trailsweep.cli.app import app

    table: dict[str, list[tuple[list[str], bool]]] = {}
    for name, command in cast(click.Group, typer.main.get_command(app)).commands.items():
        params: list[tuple[list[str], bool]] = []
        for p in command.params:
            if type(p).__name__.endswith("Argument"):
                params.append(([], False))
            # Decision: --follow (sweep, demo) is left out: a follower runs until stopped,
            # and the fuzz runs each command line to its end in this process. The flags
            # that go with it are drawn all the same (alone, they are refused).
            elif "--follow" not in p.opts:
                params.append(([*p.opts, *p.secondary_opts], bool(cast(click.Option, p).is_flag)))
        table[name] = params
    return table


OPTIONS = _option_table()


def _values(name: str, tmp: Path, emu_url: str) -> st.SearchStrategy[str]:
    base = st.sampled_from(HOSTILE) | st.text(max_size=30)
    lowered = name.lower()
    if name in PATH_OPTIONS or name == "":
        paths = _paths(tmp)
        if name in ("--config", "--resume", ""):
            paths = paths + READ_ONLY_PATHS
        return st.sampled_from(paths) | base
    if "time" in lowered or name == "--now":
        return st.sampled_from(TIMES) | base
    if name in JSON_OPTIONS:
        return st.sampled_from(JSONS) | base
    if name == "--where":
        return st.sampled_from(WHERES) | base
    if name == "--endpoint-url":
        return (
            st.sampled_from([emu_url, emu_url + "/x/..", emu_url.upper(), "http://127.0.0.1:0"])
            | base
        )
    if name in ("--accounts",):
        return st.sampled_from(["123456789012", "org,org", "1" * 12 + ",../x"]) | base
    if name == "--shard":
        return st.sampled_from(["0/2", "2/2", "auto", "auto/3", "0/0", "1/10001"]) | base
    if name in ("--regions", "--region"):
        return st.sampled_from(["us-east-1", "all,all", "us-east-1,../x", "xx-yyyy-99"]) | base
    numeric = {"--rate", "--max-items", "--page-size", "--read-ahead", "--max-results",
               "--checkpoint-interval", "--port", "--seed", "--members", "--suspended",
               "--events-per-day", "--skew", "--burst", "--latency-ms", "--jitter-ms",
               "--error-rate", "--reset-rate", "--token-ttl", "--credential-ttl",
               "--shards"}  # fmt: skip
    if name in numeric:
        return st.sampled_from(NUMBERS) | base
    return base


@st.composite
def command_lines(draw: st.DrawFn, command: str, tmp: Path, emu_url: str) -> list[str]:
    args = [command]
    params = OPTIONS[command]
    for names, is_flag in draw(st.lists(st.sampled_from(params), max_size=6)):
        if not names:  # a positional argument
            args.append(draw(_values("", tmp, emu_url)))
        elif is_flag:
            args.append(draw(st.sampled_from(names)))
        else:
            flag = draw(st.sampled_from(names))
            value = draw(_values(flag, tmp, emu_url))
            args.extend([flag, value] if draw(st.booleans()) else [f"{flag}={value}"])
    if draw(st.integers(0, 9)) == 0:  # now and then: junk where an option belongs
        args.insert(draw(st.integers(1, len(args))), draw(st.sampled_from(HOSTILE)))
    return args


@pytest.fixture(scope="module")
def quiet_emu() -> Iterator[EmulatorThread]:
    """Two accounts, two regions, a couple of events each in 90 days: a sweep that gets
    through every check ends in one call per pair."""
    calm = settings(members=1, suspended=0, events_per_day=0.02,
                    faults={"rate": 10_000.0, "burst": 10_000.0})  # fmt: skip
    with EmulatorThread(calm) as e:
        yield e


ALLOWED_CODES = {0, 1, 2, 130}


# What `-v` logs for each call ("2026-11-30T23:00:00.123Z trailsweep: 111122223333/us-east-1
# 2ms OK (rate 2.00/s)", or one JSON object with --log-format json): allowed before the one
# line of an exit 2 that a call's answer caused.
CALL_LOG_LINE = re.compile(r"^(\S+Z )?trailsweep: \S*/\S+ \d+ms .* \(rate [\d.]+/s\)$")


def _is_call_log(line: str) -> bool:
    if CALL_LOG_LINE.match(line):
        return True
    try:
        doc = json.loads(line)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("level") == "debug"


# The emulator's ready line holds its url: the JSON line, or with --print-env the export line.
READY = b"http://"


def _examples(command: str) -> int:
    """Command lines to try for `command`: more for more options. Drawing the subcommand
    too gave `demo` and `status` (2 parameters each, a few distinct lines) a third of the
    400 lines, many of them whole demo sweeps, and `sweep` (37) only 47; one test a
    subcommand also lets the workers share the fuzz (it took up to 150 s on a loaded
    2-core machine as one test, close to the suite's timeout)."""
    return 20 + 3 * len(OPTIONS[command])


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_fuzzed_command_lines_never_trace_back(
    quiet_emu: EmulatorThread,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """Generated command lines (about 350 in all): no traceback, a known exit code, one
    line on exit 2."""
    tmp = tmp_path_factory.mktemp("fuzz")
    # Generated relative paths ("all", "=.") must land here, not in the checkout.
    monkeypatch.chdir(tmp)
    env = aws_env(quiet_emu)

    @fuzz_settings(
        max_examples=_examples(command), derandomize=True, deadline=None, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(command_lines(command, tmp, quiet_emu.url))
    def check(args: list[str]) -> None:
        ran = run_main(args, env, stop_at=READY if args[0] == "emulator" else None)
        assert ran.code in ALLOWED_CODES, (ran.code, ran.err[-2000:])
        assert "Traceback" not in ran.err, ran.err[-4000:]
        if ran.code != 0:
            lines = [line for line in ran.err_lines if not _is_call_log(line)]
            assert lines, "an exit without a word"
            if ran.code == 2:
                assert len(lines) == 1 or lines[0].startswith("Usage:"), ran.err[-2000:]

    check()


def test_a_missing_profile_is_one_line_before_progress(emu: EmulatorThread, tmp_path: Path) -> None:
    """Found by the fuzz: `--profile ''` with `--progress` drew the progress display, then
    failed in the first session; the profile is now checked with the other inputs."""
    out = tmp_path / "out.ndjson"
    for profile in ("", "no-such-profile"):
        ran = run_main(
            ["sweep", "--profile", profile, "--progress", "--output", str(out)], aws_env(emu)
        )
        assert ran.code == 2
        assert len(ran.err_lines) == 1 and "--profile" in ran.err, ran.err
        assert not out.exists()


@pytest.mark.parametrize("host", ["\x80", "a\x00b", "a b", "x" * 300])
def test_an_emulator_host_that_is_no_host_is_one_line(host: str) -> None:
    """Found by the fuzz: `emulator --host` with a NUL or non-ASCII byte traced back in the
    IDNA codec."""
    ran = run_main(["emulator", "--host", host], {})
    assert ran.code == 2
    assert len(ran.err_lines) == 1 and "--host" in ran.err, ran.err


def _found(tmp: Path) -> list[list[str]]:
    """Command lines the fuzz found tracing back, hanging or eating memory, kept as cases."""
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    return [
        ["status", "/"],
        ["status", "."],
        ["sweep", "--resume", "."],
        ["lookup-events", "--end-time=0001-01-01"],
        ["sweep", "--end-time=0001-01-01"],
        ["demo", "--config", "/dev/full"],  # read until memory ran out
        ["demo", "--config", "/dev/zero"],
        ["demo", "--config", str(tmp)],
        ["sweep", "--config", str(fifo)],  # open() blocked forever
        ["sweep", "--cli-input-json", f"file://{fifo}"],
        ["lookup-events", "--cli-input-json", "file:///dev/zero"],
        ["emulator", "--port", "99999999999999999999999999"],
        ["emulator", "--port", "-1"],
        ["emulator", "--host", "\u202e\x00x"],
        ["emulator", "--host", "x" * 300],
        ["emulator", "--members", "999999999999999999999999999999"],  # made every account
    ]


def test_what_the_fuzz_found_exits_2_with_one_line(emu: EmulatorThread, tmp_path: Path) -> None:
    """Each command line the fuzz found: exit 2, one line, nothing written, no call."""
    for args in _found(tmp_path):
        before = emu.emulator.requests
        ran = run_main(args, aws_env(emu), stop_at=READY if args[0] == "emulator" else None)
        assert ran.code == 2, (args, ran.err)
        assert len(ran.err.splitlines()) == 1, ran.err
        assert emu.emulator.requests == before and ran.out == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


# Every number option and the values just past each end of its range, as the --help texts,
# README and limits.py state them (floats: nan and inf too; the low end of "above 0" ranges
# is itself refused). A number option missing here fails the test below.
PAST_RANGE: dict[tuple[str, str], list[str]] = {
    ("sweep", "--max-items"): ["0", "9007199254740992", "99999999999999999999999999999"],
    ("sweep", "--page-size"): ["0", "51"],
    ("sweep", "--read-ahead"): ["-1", "1001"],
    ("sweep", "--rate"): ["0", "100.5", "nan", "inf", "-inf"],
    ("sweep", "--connect-timeout"): ["0", "3601", "nan", "inf"],
    ("sweep", "--read-timeout"): ["0", "3601", "nan", "inf"],
    ("sweep", "--checkpoint-interval"): ["0", "3601", "nan", "inf"],
    ("lookup-events", "--max-items"): ["0", "9007199254740992"],
    ("lookup-events", "--page-size"): ["0", "51"],
    ("lookup-events", "--max-results"): ["0", "51"],
    ("emulator", "--port"): ["-1", "65536"],
    ("emulator", "--seed"): ["-1", str(2**63)],
    ("emulator", "--members"): ["-1", "10001"],
    ("emulator", "--suspended"): ["-1", "10001"],
    ("emulator", "--events-per-day"): ["-1", "1000001", "nan", "inf"],
    ("emulator", "--skew"): ["0.5", "1000001", "nan"],
    ("emulator", "--rate"): ["0", "1000001", "nan", "inf"],
    ("emulator", "--burst"): ["0.5", "1000001", "nan"],
    ("emulator", "--latency-ms"): ["-1", "3600001", "nan", "inf"],
    ("emulator", "--jitter-ms"): ["-1", "3600001", "nan"],
    ("emulator", "--error-rate"): ["-0.1", "1.1", "nan"],
    ("emulator", "--reset-rate"): ["-0.1", "1.1", "nan"],
    ("emulator", "--token-ttl"): ["0", "31536001", "nan", "inf"],
    ("emulator", "--credential-ttl"): ["0", "31536001", "nan"],
    ("emulator", "--clock-speed"): ["-1", "86401", "nan", "inf"],
    ("emulator", "--lag-median"): ["-1", "nan", "inf"],  # above --lag-tail-max: that one's
    ("emulator", "--lag-tail-share"): ["-0.1", "1.1", "nan"],
    ("emulator", "--lag-tail-max"): ["-1", "nan", "inf"],
    ("demo", "--speed"): ["0", "601", "nan"],
    ("plan", "--shards"): ["0", "10001", "99999999999999999999999999"],
    ("plan", "--connect-timeout"): ["0", "3601", "nan", "inf"],
    ("plan", "--read-timeout"): ["0", "3601", "nan", "inf"],
}  # fmt: skip


def _number_options() -> set[tuple[str, str]]:
    """(command, --option) for every int or float parameter of every command."""
    import typing

    from trailsweep.cli.app import app

    found = set()
    for command in app.registered_commands:
        for name, hint in typing.get_type_hints(command.callback).items():
            if (set(typing.get_args(hint)) or {hint}) & {int, float}:
                found.add((str(command.name), "--" + name.replace("_", "-")))
    return found


def test_every_number_option_has_a_stated_range() -> None:
    """The table below the fuzz names every number option: a new one needs a range."""
    assert _number_options() == set(PAST_RANGE)


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [(c, o, v) for (c, o), values in PAST_RANGE.items() for v in values],
)
def test_a_number_past_its_range_exits_2_before_any_call(
    emu: EmulatorThread, tmp_path: Path, command: str, option: str, value: str
) -> None:
    """One line naming the option and the value, exit 2, nothing written, nothing called."""
    before = emu.emulator.requests
    out = ["--output", str(tmp_path / "out.ndjson")] if command == "sweep" else []
    if command == "plan" and option != "--shards":  # the one option plan requires
        out = ["--shards", "2"]
    ran = run_main(
        [command, *out, f"{option}={value}"], aws_env(emu),
        stop_at=b'"url"' if command == "emulator" else None,
    )  # fmt: skip
    assert ran.code == 2, ran.err
    assert len(ran.err_lines) == 1, ran.err
    line = ran.err_lines[0]
    assert line.startswith("trailsweep: error: ") and f"{option}: " in line, line
    assert value[:12] in line and "Traceback" not in ran.err
    assert emu.emulator.requests == before
    assert ran.out == b"" and list(tmp_path.iterdir()) == []
