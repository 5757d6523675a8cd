"""Bad input: exit 2, one clear line on stderr, no traceback, no file, no AWS call."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from trailsweep.cli.app import main
from trailsweep.emulator import EmulatorThread
from trailsweep.emulator.services import calls
from trailsweep.output import checkpoint
from trailsweep.settings.config import Options

from inproc import run_here
from support import NOW_EPOCH, UseEmu, aws_env, expected_ndjson, run_cli, settings

ATTR = "--lookup-attributes"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(settings()) as e:
        yield e


def _configs(tmp: Path) -> dict[str, Path]:
    bad_toml = tmp / "bad.toml"
    bad_toml.write_text("accounts = [unterminated\n")
    unknown = tmp / "unknown.toml"
    unknown.write_text('acounts = "org"\n')
    wrong_type = tmp / "wrongtype.toml"
    wrong_type.write_text('page_size = "fifty"\n')
    return {"bad": bad_toml, "unknown": unknown, "wrongtype": wrong_type}


CASES: list[tuple[str, list[str], str]] = [
    ("key case", [ATTR, "AttributeKey=UserName,AttributeValue=x"], "Username"),
    ("unknown key", [ATTR, "AttributeKey=Bogus,AttributeValue=x"], "Bogus"),
    ("too many attributes", [a for i in range(51)
                             for a in (ATTR, f"AttributeKey=EventId,AttributeValue=e{i}")],
     "at most 50"),
    ("where unreadable", ["--where", "userIdentity.type"], "cannot read"),
    ("where bad regex", ["--where", "errorCode~(Access"], "regular expression"),
    ("double-counted length", [ATTR, "AttributeKey=Username,AttributeValue=" + "_" * 1001], "2002"),
    ("long value with spaces", [ATTR, '[{"AttributeKey":"EventName","AttributeValue":"'
                                + "a b" * 700 + '"}]'], "double"),
    ("ReadOnly value", [ATTR, "AttributeKey=ReadOnly,AttributeValue=yes"], "true"),
    ("empty value", [ATTR, "AttributeKey=Username,AttributeValue="], "--lookup-attributes"),
    ("bad attribute JSON", [ATTR, '[{"AttributeKey": '], "JSON"),
    ("garbage time", ["--start-time", "yesterday-ish"], "--start-time"),
    ("impossible date", ["--end-time", "2026-13-45"], "--end-time"),
    ("start after end", ["--start-time", "1h", "--end-time", "2h"], "after"),
    ("window past 90 days", ["--start-time", "100d"], "90 days"),
    ("page size 0", ["--page-size", "0"], "from 1 to 50"),
    ("page size 51", ["--page-size", "51"], "from 1 to 50"),
    ("max items 0", ["--max-items", "0"], "--max-items"),
    ("event category", ["--event-category", "management"], "insight"),
    ("bad JSON input", ["--cli-input-json", "{bad"], "JSON"),
    ("JSON input not object", ["--cli-input-json", "[1]"], "object"),
    ("NextToken in sweep", ["--cli-input-json", '{"NextToken": "abc"}'], "NextToken"),
    ("missing input file", ["--cli-input-json", "file:///nonexistent/in.json"], "cannot read"),
    ("missing config", ["--config", "/nonexistent/org.toml"], "does not exist"),
    ("account syntax", ["--accounts", "12345"], "12-digit"),
    ("region syntax", ["--regions", "US_EAST_1"], "region"),
    ("rate zero", ["--rate", "0"], "--rate"),
    ("unknown flag", ["--acounts", "org"], "--acounts"),
    ("not a number", ["--page-size", "fifty"], "--page-size"),
    ("skeleton kind", ["--generate-cli-skeleton", "both"], "input or output"),
    ("shard syntax", ["--shard", "1of2"], "--shard: cannot read '1of2' as a shard"),
    ("shard empty", ["--shard", ""], "--shard: cannot read"),
    ("shard index past its count", ["--shard", "2/2"], "numbered 0 to 1"),
    ("shard count 0", ["--shard", "0/0"], "from 1 to 10000"),
    ("shard count past the most", ["--shard", "0/10001"], "from 1 to 10000"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_flag_input(
    emu: EmulatorThread, use_emu: UseEmu, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    name: str, args: list[str], needle: str,
) -> None:  # fmt: skip
    """Each bad input exits 2 with one line naming the problem; nothing written or called."""
    use_emu(emu)
    out = tmp_path / "out.ndjson"
    before = emu.emulator.requests
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--output", str(out), *args])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("trailsweep: error: ")
    assert needle in lines[0]
    assert not out.exists()
    assert emu.emulator.requests == before


@pytest.mark.parametrize("which", ["bad", "unknown", "wrongtype"])
def test_bad_config_files(emu: EmulatorThread, tmp_path: Path, which: str) -> None:
    """Invalid TOML, an unknown key, a wrong type: exit 2, one line, in a real process."""
    path = _configs(tmp_path)[which]
    out = tmp_path / "out.ndjson"
    result = run_cli(["sweep", "--config", str(path), "-o", str(out)], env=aws_env(emu))
    assert result.returncode == 2
    err = result.stderr.decode()
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and str(path) in err
    assert not out.exists()


def test_unwritable_output(emu: EmulatorThread, tmp_path: Path) -> None:
    """Output in a missing directory, or a directory as output: exit 2, nothing created."""
    env = aws_env(emu)
    for target, needle in ((tmp_path / "no" / "such" / "out.ndjson", "does not exist"),
                           (tmp_path, "directory")):  # fmt: skip
        result = run_here(["sweep", "--output", str(target)], env=env)
        assert result.returncode == 2
        assert needle in result.stderr.decode()
        assert "Traceback" not in result.stderr.decode()
    assert list(tmp_path.iterdir()) == []


def test_no_credentials_is_exit_2_and_no_file(emu: EmulatorThread, tmp_path: Path) -> None:
    """With no AWS credentials anywhere: one line saying how to provide them; no file."""
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    env = {k: v for k, v in aws_env(emu).items() if k not in keys}
    out = tmp_path / "out.ndjson"
    result = run_here(["sweep", "--output", str(out)], env=env)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert "credentials" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def _refused(
    emu: EmulatorThread, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> str:
    """Run `args` in this process: exit 2, one line holding `needle`, no call; the line."""
    before = emu.emulator.requests
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert exit_info.value.code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("trailsweep: error: "), captured.err
    assert needle in lines[0], lines[0]
    assert captured.out == "" and emu.emulator.requests == before
    return lines[0]


# Numbers -----------------------------------------------------------------------------------


def test_the_reported_huge_max_items_with_output_calls_nothing(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """`sweep --max-items 99999999999999999999999999999 -o out.ndjson` made its calls, then
    traced back saving the checkpoint ("Integer exceeds 64-bit range"), leaving an output
    without one: now exit 2 and one line before any call, and no file at all."""
    before = emu.emulator.requests
    huge = "99999999999999999999999999999"
    result = run_here(
        ["sweep", "--max-items", huge, "-o", "out.ndjson"], env=aws_env(emu), cwd=str(tmp_path)
    )
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.startswith(f"trailsweep: error: --max-items: {huge} ") and err.count("\n") == 1
    assert "9007199254740991" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
    assert emu.emulator.requests == before


def test_max_items_at_the_top_of_its_range_completes_and_checkpoints(
    emu: EmulatorThread, use_emu: UseEmu, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """2**53-1, the largest --max-items, sweeps to the end, saves its checkpoint and resumes."""
    use_emu(emu)
    out = tmp_path / "out.ndjson"
    start, end = NOW_EPOCH - 3600, NOW_EPOCH - 1
    args = ["sweep", "--max-items", str(2**53 - 1), "--regions", "us-east-1",
            "--start-time", str(start), "--end-time", str(end), "-o", str(out)]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 0, capsys.readouterr().err
    management = emu.emulator.world.management.id
    assert out.read_bytes() == expected_ndjson(
        emu, [(management, "us-east-1")], start=start, end=end
    )
    stored = checkpoint.load(tmp_path / "out.ndjson.checkpoint.json")
    assert stored.finished and stored.spec["max_items"] == 2**53 - 1
    with pytest.raises(SystemExit) as exit_info:
        main(args)  # the same command again: a finished export, read back from its checkpoint
    assert exit_info.value.code == 0, capsys.readouterr().err


CONFIG_PAST_RANGE = [
    ("max_items", "99999999999999999999999999999"), ("max_items", "0"), ("max_items", "1.5"),
    ("page_size", "51"), ("page_size", "true"), ("rate", "nan"), ("rate", "inf"),
    ("rate", "100.5"), ("rate", "0"), ("connect_timeout", "0"), ("connect_timeout", "-inf"),
    ("read_timeout", "3601"), ("read_timeout", "nan"), ("part_size", "0"),
    ("part_size", "1.5"), ("part_size", '"lots"'), ("part_age", "0"), ("part_age", "nan"),
    ("lookback", "59"), ("lookback", "nan"), ("lookback", '"8d"'), ("lookback", "true"),
    ("poll_interval", "0"), ("poll_interval", "3601"), ("poll_interval", '"soon"'),
]  # fmt: skip


def test_every_number_config_key_is_range_checked() -> None:
    """The table above holds every number key of a config file."""
    hints = typing.get_type_hints(Options)
    numbers = {f.name for f in dataclasses.fields(Options) if {int, float} & set(
        typing.get_args(hints[f.name]))}  # fmt: skip
    assert numbers == {key for key, _ in CONFIG_PAST_RANGE}


@pytest.mark.parametrize(("key", "value"), CONFIG_PAST_RANGE)
def test_a_config_number_past_its_range_is_refused(
    emu: EmulatorThread, use_emu: UseEmu, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    key: str, value: str,
) -> None:  # fmt: skip
    """A TOML number out of range, nan or inf: one line naming the file and key, exit 2."""
    use_emu(emu)
    config = tmp_path / "sweep.toml"
    config.write_text(f"{key} = {value}\n")
    out = tmp_path / "out.ndjson"
    line = _refused(emu, capsys, ["sweep", "--config", str(config), "-o", str(out)], key)
    assert str(config) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.toml"]


@pytest.mark.parametrize(
    ("command", "option", "document"),
    [
        ("sweep", "--cli-input-json", '{"MaxResults": 99999999999999999999999999999}'),
        ("sweep", "--cli-input-json", '{"MaxResults": 51}'),
        ("lookup-events", "--cli-input-json", '{"MaxResults": 0}'),
        ("lookup-events", "--cli-input-yaml", "MaxResults: 99999999999999999999999999999"),
        ("lookup-events", "--cli-input-yaml", "MaxResults: .nan"),
    ],
)
def test_max_results_of_an_input_document_is_range_checked(
    emu: EmulatorThread, use_emu: UseEmu, capsys: pytest.CaptureFixture[str],
    command: str, option: str, document: str,
) -> None:  # fmt: skip
    """MaxResults in --cli-input-json/--cli-input-yaml: 1..50, checked before any call."""
    use_emu(emu)
    line = _refused(emu, capsys, [command, option, document], "50")
    assert "MaxResults" in line or "--page-size" in line


def test_a_demo_emulator_setting_past_its_range_is_refused(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo config's [emulator] numbers have the emulator flags' ranges."""
    for body, key in (
        ("members = 99999999999", "members"),
        ("skew = nan", "skew"),
        ("events_per_day = inf", "events_per_day"),
        ('members = "many"', "members"),
    ):
        config = tmp_path / "demo.toml"
        config.write_text(f'accounts = "org"\n[emulator]\n{body}\n')
        line = _refused(emu, capsys, ["demo", "--config", str(config)], f"[emulator] {key}")
        assert str(config) in line  # fmt: skip


# Empty lists -------------------------------------------------------------------------------

EMPTY_FLAGS: list[tuple[str, list[str], str]] = [
    ("sweep", ["--regions", ""], "--regions"),
    ("sweep", ["--regions", " "], "--regions"),
    ("sweep", ["--accounts", ""], "--accounts"),
    ("sweep", ["--regions", "us-east-1,,eu-west-1"], "--regions"),
    ("sweep", ["--regions", "us-east-1,"], "--regions"),
    ("sweep", ["--accounts", ",org"], "--accounts"),
    ("sweep", ["--lookup-attributes", ""], "--lookup-attributes"),
    ("sweep", ["--where", ""], "--where"),
    ("sweep", ["--role-name", ""], "--role-name"),
    ("sweep", ["--session-name", ""], "--session-name"),
    ("sweep", ["--external-id", ""], "--external-id"),
    ("lookup-events", ["--lookup-attributes", ""], "--lookup-attributes"),
    ("lookup-events", ["--where", ""], "--where"),
]


@pytest.mark.parametrize(("command", "args", "option"), EMPTY_FLAGS, ids=str)
def test_an_empty_list_value_or_item_is_refused(
    emu: EmulatorThread, use_emu: UseEmu, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    command: str, args: list[str], option: str,
) -> None:  # fmt: skip
    """`--regions ""` (an unset variable) swept the default region; a doubled comma hid an
    empty item: exit 2, one line naming the option, nothing written or called."""
    use_emu(emu)
    out = ["-o", str(tmp_path / "out.ndjson")] if command == "sweep" else []
    _refused(emu, capsys, [command, *out, *args], f"{option}: ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "body",
    ['regions = ""', "regions = []", 'accounts = [""]', 'regions = "us-east-1,,eu-west-1"',
     'regions = ["us-east-1", " "]', "lookup_attributes = []", "where = []", 'role_name = ""'],
)  # fmt: skip
def test_an_empty_list_in_a_config_is_refused(
    emu: EmulatorThread, use_emu: UseEmu, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    body: str,
) -> None:  # fmt: skip
    """The same in a config file: an empty list or item is a mistake, not "the default"."""
    use_emu(emu)
    config = tmp_path / "sweep.toml"
    config.write_text(body + "\n")
    key = body.split(" ")[0]
    _refused(emu, capsys, ["sweep", "--config", str(config), "-o", str(tmp_path / "o")],
             key.replace("_", "-") if key == "role_name" else key)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.toml"]


# AWS's own limits on AssumeRole's inputs ----------------------------------------------------

AWS_LIMITS: list[tuple[list[str], str]] = [
    (["--session-name", "x y"], "--session-name"),
    (["--session-name", "a/b"], "--session-name"),
    (["--session-name", "a*"], "--session-name"),
    (["--session-name", "s" * 5000], "--session-name"),
    (["--session-name", "s" * 65], "--session-name"),
    (["--session-name", "é" * 3], "--session-name"),
    (["--external-id", "e" * 100_000], "--external-id"),
    (["--external-id", "e" * 1225], "--external-id"),
    (["--external-id", "a b"], "--external-id"),
    (["--role-name", "bad role!*"], "--role-name"),
    (["--role-name", "r" * 65], "--role-name"),
    (["--role-name", "/division/Role"], "--role-name"),
    (["--role-name", "divi sion/Role"], "--role-name"),
    (["--role-name", "p" * 511 + "/Role"], "--role-name"),
]


@pytest.mark.parametrize(("args", "option"), AWS_LIMITS, ids=lambda v: str(v)[:40])
def test_assume_role_inputs_aws_refuses_are_refused_before_any_call(
    emu: EmulatorThread, use_emu: UseEmu, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    args: list[str], option: str,
) -> None:  # fmt: skip
    """RoleSessionName [\\w+=,.@-]{2,64}, ExternalId [\\w+=,.@:/-]{2,1224}, role name
    [\\w+=,.@-]{1,64} after an IAM path of at most 512: checked before any call (the
    emulator, like AWS, would refuse them: test_emulator_errors)."""
    use_emu(emu)
    assume_before = calls(emu.emulator.world)["AssumeRole"]
    out = tmp_path / "out.ndjson"
    line = _refused(emu, capsys, ["sweep", "--accounts", "org", "-o", str(out), *args], option)
    assert len(line) < 300 and "e" * 100 not in line
    assert calls(emu.emulator.world)["AssumeRole"] == assume_before
    assert list(tmp_path.iterdir()) == []


def test_assume_role_inputs_at_aws_limits_are_sent(
    emu: EmulatorThread, use_emu: UseEmu, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The longest session name and external id AWS takes, every allowed character: swept."""
    use_emu(emu)
    session = ("Az09_+=,.@-" * 6)[:64]
    external = ("Az09_+=,.@:/-" * 100)[:1224]
    out = tmp_path / "out.ndjson"
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--accounts", "org", "--regions", "us-east-1", "--start-time", "1h",
              "--session-name", session, "--external-id", external, "-o", str(out)])  # fmt: skip
    assert exit_info.value.code == 0, capsys.readouterr().err
    members = [a for a in emu.emulator.world.accounts[1:] if a.status == "ACTIVE"]
    assert calls(emu.emulator.world)["AssumeRole"] >= len(members)
