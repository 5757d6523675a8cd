"""`trailsweep emulator --print-env` / `--env-file`: shell lines that point any AWS client
at the emulator, so nobody copies keys by hand."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from trailsweep.cli.emulator import env_lines
from trailsweep.emulator import EmulatorThread

from support import settings

NAMES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")


def _sourced(path: Path, base: dict[str, str]) -> dict[str, str]:
    """The environment a POSIX shell has after `. FILE`."""
    result = subprocess.run(
        ["sh", "-c", '. "$1" && env', "sh", str(path)], env=base, cwd=path.parent,
        capture_output=True, timeout=30, check=True,
    )  # fmt: skip
    return dict(line.split("=", 1) for line in result.stdout.decode().splitlines() if "=" in line)


def _expected(info: dict[str, Any]) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": info["url"],
        "AWS_ACCESS_KEY_ID": info["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": info["secret_access_key"],
        "AWS_REGION": info["region"],
        "AWS_DEFAULT_REGION": info["region"],
    }


def test_env_lines_point_a_shell_at_the_emulator(tmp_path: Path) -> None:
    """Sourced by sh, the lines set exactly the emulator's own url, keys and region (from
    its in-process ready info) and drop a stale session token."""
    with EmulatorThread(settings(members=1, suspended=0)) as emu:
        info = emu.emulator.ready_info()
    path = tmp_path / "emu.env"
    path.write_text(env_lines(info))
    env = _sourced(path, {"PATH": os.environ["PATH"], "AWS_SESSION_TOKEN": "stale"})
    assert {k: env.get(k) for k in _expected(info)} == _expected(info)
    assert "AWS_SESSION_TOKEN" not in env


def test_env_lines_quote_every_value_for_the_shell(tmp_path: Path) -> None:
    """Values with quotes, spaces, $ and backquotes arrive byte for byte, nothing runs."""
    hostile = 'a\'b "c" $(touch pwned) `touch pwned2` ; d\\e'
    info = {"url": hostile, "access_key_id": "x y", "secret_access_key": hostile,
            "region": "us-east-1"}  # fmt: skip
    path = tmp_path / "emu.env"
    path.write_text(env_lines(info))
    env = _sourced(path, {"PATH": os.environ["PATH"]})
    assert env["AWS_ENDPOINT_URL"] == hostile
    assert env["AWS_SECRET_ACCESS_KEY"] == hostile
    assert env["AWS_ACCESS_KEY_ID"] == "x y"
    assert not list(tmp_path.glob("pwned*"))


def test_print_env_and_env_file_from_the_command(tmp_path: Path) -> None:
    """`trailsweep emulator --print-env --env-file F`: export lines on stdout, the JSON ready
    line on stderr, F (mode 0600) with the same lines written before it; sourced, they point
    a client at the emulator; Ctrl-C stops it with exit 0."""
    env_file = tmp_path / "emu.env"
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trailsweep", "emulator", "--port", "0", "--members", "1",
         "--print-env", "--env-file", str(env_file)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=base,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        ready = orjson.loads(proc.stderr.readline())  # blocks until it listens
        printed = b""
        while not printed.endswith(b"unset AWS_SESSION_TOKEN\n"):
            line = proc.stdout.readline()
            assert line, "stdout closed before the last env line"
            printed += line
        assert printed.decode() == env_file.read_text()
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        for text in printed.decode().splitlines()[:-1]:
            assert text.startswith("export AWS_")
        sourced = _sourced(env_file, {**base, "AWS_CONFIG_FILE": os.devnull})
        assert {k: sourced.get(k) for k in NAMES} == {k: _expected(ready)[k] for k in NAMES}
        lookup = subprocess.run(
            ["sh", "-c", '. "$1" && exec "$2" -m trailsweep lookup-events --max-items 5', "sh",
             str(env_file), sys.executable],
            env={**base, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE":
                 os.devnull}, capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        assert lookup.returncode == 0, lookup.stderr.decode()
        assert len(orjson.loads(lookup.stdout)["Events"]) == 5
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
