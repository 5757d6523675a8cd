"""Who may use the emulator: loopback unless --allow-remote, the control API only with the
ready line's control_token, and the management secret key never shown unasked."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import boto3
import orjson
import pytest

from trailsweep.emulator import Emulator, EmulatorSettings, EmulatorThread
from trailsweep.emulator.settings import SettingsError, is_loopback

from support import NO_RETRY, client, control, settings

# Every route of the control API, with the body of a POST (None: a GET).
ROUTES: list[tuple[str, bytes | None]] = [
    ("/_emulator/world", None),
    ("/_emulator/world?secrets=1", None),
    ("/_emulator/stats", None),
    ("/_emulator/faults", None),
    ("/_emulator/truth?account=000000000000&region=us-east-1", None),
    ("/_emulator/faults", b'{"error_rate": 1.0}'),
    ("/_emulator/stats/reset", b""),
]


def _refused(url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any, str]:
    """Status, JSON body and WWW-Authenticate of a control request that must fail."""
    req = urllib.request.Request(url, data=body, headers=headers)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=30).close()
    err = caught.value
    return err.code, orjson.loads(err.read()), err.headers.get("WWW-Authenticate", "")


def _assert_all_refused(info: dict[str, Any], secret: str) -> None:
    """Every route, without the token, with a wrong one, or with it in the URL: 401."""
    wrong = "Bearer " + "x" * len(info["control_token"])
    for path, body in ROUTES:
        for headers, query in (
            ({}, ""),
            ({"Authorization": wrong}, ""),
            ({"Authorization": info["control_token"]}, ""),  # no "Bearer "
            ({"Content-Type": "text/plain"}, ""),  # what a web page can POST unasked
            ({}, ("&" if "?" in path else "?") + "token=" + info["control_token"]),
        ):
            status, answer, challenge = _refused(info["url"] + path + query, body, headers)
            assert status == 401, (path, headers)
            assert "control_token" in answer["error"] and challenge.startswith("Bearer")
            assert secret not in orjson.dumps(answer).decode()


def test_the_control_api_needs_the_token_on_loopback_too() -> None:
    """On 127.0.0.1 every control route answers 401 without the token and changes nothing;
    with it, each works."""
    with EmulatorThread(settings()) as emu:
        info = emu.emulator.ready_info()
        client(emu, "cloudtrail").lookup_events(MaxResults=1)
        _assert_all_refused(info, info["secret_access_key"])
        assert emu.emulator.faults.error_rate == 0.0  # the POSTs changed nothing
        assert emu.stats()["totals"]["calls"] == 1  # nor reset the counters
        for path, body in ROUTES:
            control(info, path, body)
        assert emu.emulator.faults.error_rate == 1.0
        assert emu.stats()["totals"]["calls"] == 0


def test_world_shows_the_secret_key_only_with_the_token_when_asked() -> None:
    """/world names the management access key id; its secret only for ?secrets=1 with the
    token; the token itself never."""
    with EmulatorThread(settings()) as emu:
        info = emu.emulator.ready_info()
        secret, token = info["secret_access_key"], info["control_token"]
        root = emu.emulator.world.root_principal
        assert secret == root.secret_access_key
        for path in ("/_emulator/world", "/_emulator/world?secrets=0"):
            plain = control(info, path)
            assert plain["access_key_id"] == root.access_key_id
            assert "secret_access_key" not in plain
            text = orjson.dumps(plain).decode()
            assert secret not in text and token not in text
        asked = control(info, "/_emulator/world?secrets=1")
        assert asked["secret_access_key"] == secret
        assert token not in orjson.dumps(asked).decode()
        status, answer, _ = _refused(info["url"] + "/_emulator/world?secrets=1", None, {})
        assert status == 401 and secret not in orjson.dumps(answer).decode()


def test_every_emulator_draws_its_own_token_unless_given() -> None:
    """Two emulators, two random tokens; a given token is used; a short one is refused."""
    a, b = Emulator(settings()), Emulator(settings())
    assert a.control_token != b.control_token and len(a.control_token) >= 32
    given = "t0ken-of-the-test.0123456789"
    assert Emulator(settings(control_token=given)).control_token == given
    for bad in ("", "short", "spaces are not token characters", "x" * 257):
        with pytest.raises(SettingsError, match="--control-token"):
            settings(control_token=bad)
    assert "t0ken" not in repr(settings(control_token=given))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("localhost", True),
        ("LOCALHOST", True), ("::ffff:127.0.0.1", True), ("0.0.0.0", False), ("::", False),
        ("10.0.0.1", False), ("192.168.1.20", False), ("fe80::1", False), ("0", False),
        ("myhost", False), ("localhost.example.com", False), ("128.0.0.1", False),
    ],
)  # fmt: skip
def test_only_loopback_hosts_bind_without_allow_remote(host: str, loopback: bool) -> None:
    """127.0.0.0/8, ::1 and localhost are loopback; any other address or name needs
    allow_remote, in the library as in the command."""
    assert is_loopback(host) is loopback
    if loopback:
        EmulatorSettings(host=host)
    else:
        with pytest.raises(SettingsError, match="--allow-remote"):
            EmulatorSettings(host=host)
        EmulatorSettings(host=host, allow_remote=True)


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_remote_bind_without_allow_remote_exits_2_before_binding(host: str) -> None:
    """`trailsweep emulator --host 0.0.0.0` exits 2 at once with one line naming
    --allow-remote, no ready line; on a port already taken, so a bind tried first would
    have said "cannot listen" instead."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        ran = subprocess.run(
            [sys.executable, "-m", "trailsweep", "emulator", "--host", host, "--port", str(port)],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
    lines = ran.stderr.decode().splitlines()
    assert ran.returncode == 2, lines
    assert len(lines) == 1 and "--allow-remote" in lines[0] and "127.0.0.1" in lines[0]
    assert ran.stdout == b""


def test_allow_remote_serves_with_a_token_in_the_ready_line() -> None:
    """--host 0.0.0.0 --allow-remote (reached here on 127.0.0.1 only): a warning on stderr,
    the given token in the ready line, control requests 401 without it and answered with
    it, the SigV4 AWS APIs as ever."""
    given = "remote-test-token-0123456789abcdef"
    env = {**os.environ, "TRAILSWEEP_EMULATOR_TOKEN": given}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trailsweep", "emulator", "--host", "0.0.0.0", "--allow-remote",
         "--port", "0", "--members", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        ready = orjson.loads(proc.stdout.readline())
        warning = proc.stderr.readline().decode()  # written and flushed before the ready line
        assert "--allow-remote" in warning and "control_token" in warning
        assert ready["control_token"] == given
        port = int(ready["url"].rsplit(":", 1)[1])
        info = {**ready, "url": f"http://127.0.0.1:{port}"}
        _assert_all_refused(info, ready["secret_access_key"])
        shown = control(info, "/_emulator/world?secrets=1")
        assert shown["secret_access_key"] == ready["secret_access_key"]
        assert "secret_access_key" not in control(info, "/_emulator/world")
        sts = boto3.session.Session().client(
            "sts", region_name=ready["region"], endpoint_url=info["url"], config=NO_RETRY,
            aws_access_key_id=ready["access_key_id"],
            aws_secret_access_key=ready["secret_access_key"],
        )  # fmt: skip
        assert sts.get_caller_identity()["Account"] == ready["account"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_an_ipv6_loopback_emulator_gives_a_url_that_works() -> None:
    """--host ::1 is loopback; its url brackets the address (http://[::1]:port), so the
    control API and the AWS APIs answer at it."""
    with EmulatorThread(settings(host="::1")) as emu:
        info = emu.emulator.ready_info()
        assert info["url"].startswith("http://[::1]:")
        assert control(info, "/_emulator/world")["account"] == info["account"]
        sts = client(emu, "sts")
        assert sts.get_caller_identity()["Account"] == info["account"]
