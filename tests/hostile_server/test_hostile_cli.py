"""Hostile command lines: bad regions, endpoints and paths exit 2 with one line before any
call; and a fuzz of generated command lines never ends in a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
