"""Bad input: exit 2, one clear line on stderr, no traceback, no file, no AWS call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trailsweep.cli import main
from trailsweep.emulator import EmulatorThread

from support import aws_env, run_cli, settings

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
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_flag_input(
    emu: EmulatorThread, use_emu: object, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    name: str, args: list[str], needle: str,
) -> None:  # fmt: skip
    """Each bad input exits 2 with one line naming the problem; nothing written or called."""
    use_emu(emu)  # type: ignore[operator]
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
        result = run_cli(["sweep", "--output", str(target)], env=env)
        assert result.returncode == 2
        assert needle in result.stderr.decode()
        assert "Traceback" not in result.stderr.decode()
    assert list(tmp_path.iterdir()) == []


def test_no_credentials_is_exit_2_and_no_file(emu: EmulatorThread, tmp_path: Path) -> None:
    """With no AWS credentials anywhere: one line saying how to provide them; no file."""
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    env = {k: v for k, v in aws_env(emu).items() if k not in keys}
    out = tmp_path / "out.ndjson"
    result = run_cli(["sweep", "--output", str(out)], env=env)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert "credentials" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
