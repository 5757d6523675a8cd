"""The control API and the flags of the delivery-lag model and the data clock:
/_emulator/clock, /_emulator/truth's as_of, everything and arrivals, the lag faults, and
`trailsweep emulator --lag ... --clock-speed ...`; bad values are 400s or exit 2."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import orjson
import pytest

from trailsweep.emulator import AWS_LAG, EmulatorThread

from support import NOW_EPOCH, client, control, run_cli, settings

FAST = {"rate": 10_000.0, "burst": 10_000.0}


def _emulator(**faults: Any) -> EmulatorThread:
    world = {"members": 0, "suspended": 0, "regions": ("us-east-1",), "events_per_day": 30_000.0}
    return EmulatorThread(settings(faults={**FAST, **faults}, **world))


def _status(info: dict[str, Any], path: str, body: bytes | None, token: bool = True) -> int:
    """The HTTP status of a control request expected to fail (with or without the token)."""
    headers = {"Authorization": f"Bearer {info['control_token']}"} if token else {}
    req = urllib.request.Request(info["url"] + path, data=body, headers=headers)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=30).close()
    assert "error" in orjson.loads(caught.value.read())
    return caught.value.code


def test_the_clock_route_steps_the_data_clock_forward_only() -> None:
    """GET shows now and speed; POST advances, sets and changes speed; LookupEvents follows."""
    with _emulator() as emu:
        info = emu.emulator.ready_info()
        assert control(info, "/_emulator/clock") == {"now": NOW_EPOCH, "speed": 0.0}
        assert control(info, "/_emulator/clock", b'{"advance": 60}')["now"] == NOW_EPOCH + 60
        moved = control(info, "/_emulator/clock", b'{"now": %d}' % (NOW_EPOCH + 3600))
        assert moved == {"now": NOW_EPOCH + 3600, "speed": 0.0}
        newest = client(emu, "cloudtrail").lookup_events(MaxResults=1)["Events"][0]
        assert NOW_EPOCH < newest["EventTime"].timestamp() <= NOW_EPOCH + 3600
        assert control(info, "/_emulator/clock", b'{"speed": 0}')["speed"] == 0.0
        assert control(info, "/_emulator/world")["now"] == NOW_EPOCH + 3600


@pytest.mark.parametrize(
    "body",
    [
        b'{"advance": -1}',
        b'{"advance": "60"}',
        b'{"advance": true}',
        b'{"now": 1000}',  # before the clock's now: backwards
        b'{"advance": 60, "now": 99999999999}',
        b'{"advance": 60, "speed": -1}',  # all or nothing: the advance is not made
        b'{"speed": null}',
        b'{"pace": 2}',
        b"{}",
        b"[60]",
        b"sixty",
    ],
)
def test_the_clock_route_refuses_what_it_cannot_do(body: bytes) -> None:
    """A step back, a value that is no number of seconds, an unknown key or a body that is
    no JSON object: 400 with the reason, and the clock as it was."""
    with _emulator() as emu:
        info = emu.emulator.ready_info()
        assert _status(info, "/_emulator/clock", body) == 400
        assert control(info, "/_emulator/clock") == {"now": NOW_EPOCH, "speed": 0.0}


def test_the_new_routes_need_the_control_token() -> None:
    """/clock (GET and POST) and /truth with the new parameters: 401 without the token,
    and the POST moved nothing."""
    with _emulator() as emu:
        info = emu.emulator.ready_info()
        truth = f"/_emulator/truth?account={info['account']}&region=us-east-1&everything=1"
        for path, body in (("/_emulator/clock", None), ("/_emulator/clock", b'{"advance": 9}'),
                           (truth + "&arrivals=1&as_of=1", None)):  # fmt: skip
            assert _status(info, path, body, token=False) == 401
        assert emu.emulator.data_now() == NOW_EPOCH


def test_the_truth_route_answers_as_of_everything_and_arrivals() -> None:
    """?as_of, ?everything=1 and ?arrivals=1 give what Emulator.truth and .arrivals give,
    Arrivals in the events' order; without them the answer has its old shape."""
    with _emulator(**AWS_LAG) as emu:
        info = emu.emulator.ready_info()
        account, start = info["account"], NOW_EPOCH - 3600
        base = f"/_emulator/truth?account={account}&region=us-east-1&start={start}"
        plain = control(info, base)
        assert set(plain) == {"Events"}
        assert plain["Events"] == emu.truth(account, "us-east-1", start=start)
        ahead = control(info, f"{base}&as_of={NOW_EPOCH + 900}&arrivals=1")
        assert ahead["Events"] == emu.truth(account, "us-east-1", start=start,
                                            as_of=NOW_EPOCH + 900)  # fmt: skip
        every = control(info, f"{base}&everything=1&arrivals=1")
        arrivals = emu.arrivals(account, "us-east-1", start=start, everything=True)
        assert [e["EventId"] for e in every["Events"]] == list(arrivals)
        assert every["Arrivals"] == list(arrivals.values())
        assert len(every["Events"]) > len(plain["Events"])  # some have not arrived
        assert all(t <= NOW_EPOCH + 900 for t in ahead["Arrivals"])
        for bad in ("&everything=yes", "&arrivals=2", "&as_of=soon"):
            assert _status(info, base + bad, None) == 400


@pytest.mark.parametrize(
    "patch",
    [
        {"rate": -1},
        {"burst": -0.5},
        {"latency_ms": -5},
        {"error_rate": 1.5},
        {"rate": True},
        {"lag_median": -1},
        {"lag_tail_share": 2},
        {"lag_median": 600, "lag_tail_max": 300},
        {"rate": 5, "lag_tail_max": -1},  # all or nothing: the rate stays
    ],
)
def test_the_faults_route_refuses_numbers_out_of_range(patch: dict[str, Any]) -> None:
    """Negative rates and delays, shares beyond 1, a lag maximum below its median: 400,
    and the faults as they were."""
    with _emulator() as emu:
        info = emu.emulator.ready_info()
        before = control(info, "/_emulator/faults")
        assert _status(info, "/_emulator/faults", orjson.dumps(patch)) == 400
        assert control(info, "/_emulator/faults") == before


def test_lag_turned_on_while_it_runs_hides_what_has_not_arrived() -> None:
    """POST /_emulator/faults with AWS_LAG: some of the newest events leave LookupEvents
    (not arrived yet); turned off again, all are back."""
    with _emulator() as emu:
        info, ct = emu.emulator.ready_info(), client(emu, "cloudtrail")
        window = {"StartTime": NOW_EPOCH - 3600}
        everything = ct.lookup_events(MaxResults=50, **window)["Events"]
        control(info, "/_emulator/faults", orjson.dumps(AWS_LAG))
        lagged = ct.lookup_events(MaxResults=50, **window)["Events"]
        shown = {e["EventId"] for e in lagged}
        oldest_shown = lagged[-1]["EventTime"]
        assert [
            e for e in everything if e["EventTime"] > oldest_shown and e["EventId"] not in shown
        ]
        control(info, "/_emulator/faults", orjson.dumps(dict.fromkeys(AWS_LAG, 0)))
        assert ct.lookup_events(MaxResults=50, **window)["Events"] == everything


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--lag-median", "-1"], "--lag-median"),
        (["--lag-tail-share", "1.5"], "--lag-tail-share"),
        (["--lag-median", "1000"], "--lag-tail-max"),  # above the default maximum, 900
        (["--lag", "--lag-tail-max", "nan"], "--lag-tail-max"),
        (["--clock-speed", "-1"], "--clock-speed"),
        (["--realtime", "--clock-speed", "2"], "--realtime"),
        (["--regions", "nope-1"], "--regions"),
        (["--regions", "us-east-1,us-eats-1"], "did you mean us-east-1"),
    ],
)
def test_bad_lag_clock_and_region_flags_exit_2_in_one_line(flags: list[str], named: str) -> None:
    """A lag or clock flag it cannot take, or a region AWS does not have: one line on
    stderr naming it, exit 2, nothing served."""
    result = run_cli(["emulator", "--port", "0", *flags], timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in lines[0]
    assert result.stdout == b""


def test_the_lag_and_clock_flags_set_what_the_emulator_serves() -> None:
    """--lag-tail-max alone turns on AWS's lag with that maximum; --clock-speed 0 holds the
    data clock at --now until the control API steps it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "trailsweep", "emulator", "--port", "0", "--members", "0",
         "--suspended", "0", "--now", "2026-11-01T00:00:00Z", "--lag-tail-max", "1800",
         "--clock-speed", "0"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = orjson.loads(proc.stdout.readline())
        faults = control(info, "/_emulator/faults")
        assert (faults["lag_median"], faults["lag_tail_share"], faults["lag_tail_max"]) == (
            AWS_LAG["lag_median"],
            AWS_LAG["lag_tail_share"],
            1800.0,
        )
        assert control(info, "/_emulator/clock") == {"now": 1793491200, "speed": 0.0}
        assert control(info, "/_emulator/clock", b'{"advance": 90}')["now"] == 1793491290
    finally:
        proc.terminate()
        proc.wait(timeout=10)
