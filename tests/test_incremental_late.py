"""Events delivered late, simulated by hiding them from one run (an emulator tamper): the
next run's look-back catches those younger than it and says how many and how late; older
ones cannot be seen again (README: "Incremental runs and following")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from trailsweep.emulator.tamper import Call, Honest

from inproc import run_here
from state_support import LOOKBACK, MovingData, exactly_once, pairs_of, split_lines, sweep_args
from support import aws_env, expected_line, expected_ndjson


class Hide:
    """An emulator tamper: LookupEvents answers without the events whose EventTime is in
    [lo, hi], as if CloudTrail had not delivered them yet."""

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    async def __call__(self, call: Call, honest: Honest) -> web.StreamResponse:
        response = await honest()
        if call.operation != "LookupEvents" or response.status != 200:
            return response
        assert isinstance(response, web.Response) and isinstance(response.body, bytes)
        page: dict[str, Any] = orjson.loads(response.body)
        page["Events"] = [e for e in page["Events"] if not self.lo <= e["EventTime"] <= self.hi]
        return web.Response(body=orjson.dumps(page), content_type="application/x-amz-json-1.1")


def _span(seconds: int) -> str:
    """A duration as the summary line writes it: 20m00s, 45s."""
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _hidden(data: MovingData, lo: int, hi: int) -> tuple[list[bytes], int]:
    """The lines of the events in [lo, hi] of every pair, and the oldest EventTime."""
    found, oldest = [], hi
    for account, region in pairs_of(data.emu):
        for event in data.emu.truth(account, region, start=lo, end=hi):
            found.append(expected_line(account, region, event))
            oldest = min(oldest, event["EventTime"])
    return found, oldest


def _runs(tmp_path: Path, data: MovingData, lo: int, hi: int) -> tuple[bytes, bytes, str, Any]:
    """Run 1 with [first end - lo, first end - hi] hidden, then the clock 10 minutes on,
    run 2 with nothing hidden: both outputs, run 2's stderr and its summary's
    "incremental" object."""
    env, state = aws_env(data.emu), tmp_path / "state.json"
    begin, first_end = data.now() - 3600, data.now()
    data.emu.set_tamper(Hide(first_end - lo, first_end - hi))
    try:
        first = run_here(sweep_args(begin, first_end, state), env=env)
    finally:
        data.emu.set_tamper(None)
    assert first.returncode == 0, first.stderr.decode()
    data.step(600)
    summary = tmp_path / "summary.json"
    second = run_here(sweep_args(begin, data.now(), state, "--summary-json", str(summary)), env=env)
    assert second.returncode == 0, second.stderr.decode()
    doc = orjson.loads(summary.read_bytes())["incremental"]
    return first.stdout, second.stdout, second.stderr.decode(), doc


def test_late_events_within_the_look_back_are_caught_and_counted(tmp_path: Path) -> None:
    """Events 1 to 15 minutes old when run 1 looked were not there yet: run 2 writes them
    among its new events, in order, and says how many and how late the latest was."""
    with MovingData(members=1, events_per_day=3000.0) as data:
        begin, first_end = data.now() - 3600, data.now()
        late, oldest = _hidden(data, first_end - 900, first_end - 60)
        visible = expected_ndjson(data.emu, pairs_of(data.emu), start=begin, end=first_end)
        assert late
        first, second, err, doc = _runs(tmp_path, data, 900, 60)
        truth = expected_ndjson(data.emu, pairs_of(data.emu), start=begin, end=data.now())
        hidden = set(late)
        assert first == b"".join(x for x in split_lines(visible) if x not in hidden)
        done = set(split_lines(first))
        assert second == b"".join(x for x in split_lines(truth) if x not in done)
        exactly_once([first, second], truth)
        assert doc["late_caught"] == len(late)
        assert doc["late_most_seconds"] == first_end - oldest
        assert (
            f"{len(late)} events delivered late caught by the {_span(LOOKBACK)} look-back "
            f"(the latest at least {_span(first_end - oldest)} late)"
        ) in err
        assert "warning" not in err


def test_late_events_near_the_look_back_warn(tmp_path: Path) -> None:
    """Caught, but one was within a fifth of the look-back of being missed: a warning."""
    with MovingData(members=1, events_per_day=3000.0) as data:
        first_end = data.now()
        late, oldest = _hidden(data, first_end - 1150, first_end - 1000)
        assert late and (first_end - oldest) * 5 >= LOOKBACK * 4
        _, second, err, doc = _runs(tmp_path, data, 1150, 1000)
        assert set(late) <= set(split_lines(second))
        assert doc["late_caught"] == len(late)
        assert f"warning: an event arrived at least {_span(first_end - oldest)} late" in err


def test_events_later_than_the_look_back_are_missed(tmp_path: Path) -> None:
    """Events older than the look-back when they arrive cannot be seen by any later run:
    run 2 writes everything else exactly once, and not them (the emulator's truth counts
    them); it cannot know of them, so says nothing of late events."""
    with MovingData(members=1, events_per_day=3000.0) as data:
        begin, first_end = data.now() - 3600, data.now()
        lost, _ = _hidden(data, first_end - 2400, first_end - LOOKBACK - 600)
        assert lost
        first, second, err, doc = _runs(tmp_path, data, 2400, LOOKBACK + 600)
        truth = expected_ndjson(data.emu, pairs_of(data.emu), start=begin, end=data.now())
        gone = set(lost)
        kept = b"".join(x for x in split_lines(truth) if x not in gone)
        exactly_once([first, second], kept)
        print(f"events missed: {len(lost)} of {len(split_lines(truth))}")
        assert doc["late_caught"] == 0 and "delivered late" not in err
