"""The emulator as a whole: determinism, the ready line, the control API, lazy memory."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson
import pytest

from trailsweep.emulator import EmulatorThread

from support import NOW_EPOCH, client, control, settings


def _bodies(emu: EmulatorThread, pages: int) -> list[bytes]:
    """Raw LookupEvents response bodies of the first pages, as served over HTTP."""
    ct = client(emu, "cloudtrail", "us-east-1")
    seen: list[bytes] = []

    def grab(response_dict: dict[str, Any], **_: Any) -> None:
        seen.append(response_dict["body"])

    ct.meta.events.register("before-parse.cloudtrail.LookupEvents", grab)
    token = None
    for _ in range(pages):
        kw: dict[str, str] = {"NextToken": token} if token else {}
        token = ct.lookup_events(MaxResults=50, StartTime=NOW_EPOCH - 86400, **kw).get("NextToken")
    return seen


def test_same_seed_and_clock_serve_byte_identical_pages() -> None:
    """Two emulators with one seed and clock serve the same bytes; another seed does not."""
    fast = {"rate": 1000.0, "burst": 1000.0}
    with EmulatorThread(settings(faults=fast)) as a, EmulatorThread(settings(faults=fast)) as b:
        pages_a, pages_b = _bodies(a, 4), _bodies(b, 4)
    with EmulatorThread(settings(seed=8, faults=fast)) as c:
        pages_c = _bodies(c, 1)
    assert pages_a == pages_b
    assert len(pages_a) == 4 and all(len(p) > 20_000 for p in pages_a)
    assert pages_c[0] != pages_a[0]


def test_ready_line_and_control_api() -> None:
    """`trailsweep emulator` prints one JSON ready line; the control API answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "trailsweep", "emulator", "--port", "0", "--members", "2",
         "--now", "2026-11-01T00:00:00Z"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = orjson.loads(proc.stdout.readline())
        assert set(info) >= {"url", "access_key_id", "secret_access_key", "region"}
        assert info["access_key_id"].startswith("AKIA")
        assert len(info["control_token"]) >= 32  # secrets.token_urlsafe(32): 43 characters
        world = control(info, "/_emulator/world")
        assert len(world["accounts"]) == 3
        assert world["now"] == 1793491200
        assert control(info, "/_emulator/faults", b'{"latency_ms": 5}')["latency_ms"] == 5.0
        url = f"/_emulator/truth?account={info['account']}&region=us-east-1"
        truth = control(info, url + "&start=1793400000")["Events"]
        assert truth and all(1793400000 <= e["EventTime"] <= 1793491200 for e in truth)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_history_is_lazy_and_cache_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full 90-day truth of a busy pair leaves at most the LRU cap of events cached.
    The cap is lowered to a tenth, and the pair's events with it: the same eviction, a
    tenth of the events to generate (450,000 took 9 s of CPU)."""
    from trailsweep.emulator import history as history_module

    cap = history_module._CACHE_EVENTS // 10
    monkeypatch.setattr(history_module, "_CACHE_EVENTS", cap)
    s = settings(events_per_day=500.0, skew=1.0)
    history = history_module.History(s)
    end = NOW_EPOCH
    n = sum(1 for _ in history.events("123456789012", "us-east-1", start=end - 90 * 86400, end=end))
    assert n > 2 * cap
    assert history._cached_events <= cap + 500  # a day's events: one hour's block past it


def test_busy_port_is_one_clear_line() -> None:
    """A port already in use: exit 2 and one line naming the fix, not a traceback."""
    with EmulatorThread(settings()) as emu:
        result = subprocess.run(
            [sys.executable, "-m", "trailsweep", "emulator", "--port", str(emu.emulator.port)],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "--port" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
