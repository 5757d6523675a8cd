"""CloudTrail's delivery lag in the emulator (emulator/lag.py) and its steppable data clock
(emulator/dataclock.py): LookupEvents, over real HTTP through boto3, shows an event only
once the data clock has passed its arrival, exactly as the ground truth says."""

from __future__ import annotations

import hashlib
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from trailsweep.emulator import AWS_LAG, LAG_OFF, Emulator, EmulatorSettings, EmulatorThread, Faults
from trailsweep.emulator.settings import SettingsError
from trailsweep.testing import ManualClock

from support import NOW, NOW_EPOCH, client, paginate, settings

FAST = {"rate": 10_000.0, "burst": 10_000.0}
MANAGEMENT_REGION = "us-east-1"
WINDOW_START = NOW_EPOCH - 2 * 3600  # the queries' StartTime: two hours of events


def _lagged(**kw: Any) -> EmulatorSettings:
    """One busy pair (the management account in us-east-1) with AWS's stated lag."""
    faults = {**FAST, **AWS_LAG, **kw.pop("faults", {})}
    base: dict[str, Any] = {"members": 0, "suspended": 0, "regions": (MANAGEMENT_REGION,)}
    base["events_per_day"] = kw.pop("events_per_day", 30_000.0)  # a quiet pair: ~125 an hour
    return settings(faults=faults, **base, **kw)


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["EventId"] for e in events]


def _account(emu: EmulatorThread) -> str:
    return emu.emulator.world.management.id


def _lookup(emu: EmulatorThread, **params: Any) -> list[dict[str, Any]]:
    """Every page of LookupEvents from WINDOW_START to the data clock's now, through boto3."""
    return paginate(client(emu, "cloudtrail"), StartTime=WINDOW_START, **params)


def _truth(emu: EmulatorThread, **kw: Any) -> list[dict[str, Any]]:
    return emu.truth(_account(emu), MANAGEMENT_REGION, start=WINDOW_START, **kw)


# The whole truth of a fixed organization (3 days, every pair, management and Insights
# events) as it was before the lag model existed, measured on the code without it: the
# events, their ids and times are what they were, with the lag off (the default).
BEFORE_LAG = (38103, "342ef77d326be8fe626d6787d49e0b2d844bbfc8fca0574af02901bca8087308")
# The same events' bytes. Pinned again when the records got their realistic shapes (the
# cast of principals, cast.py; per-call shapes, catalog.py): the same events (ids and
# times, BEFORE_LAG) with new contents.
BYTES = "77f615105ab7a265783a512ab45a1bd80b27e74b4721f43d39fb66e0bf1e91b1"


def test_with_the_lag_off_every_event_is_what_it_was_and_arrives_at_once() -> None:
    """Default faults: no lag; the truth's events (ids, times) are those from before the
    lag model, its bytes those pinned; every event arrives at its EventTime, so the visible
    truth is everything."""
    assert Faults().lag().off
    now = datetime(2026, 3, 4, 5, 0, 0, tzinfo=UTC)
    emu = Emulator(
        EmulatorSettings(seed=21, now=now, draw_origin=now, members=2, suspended=0,
                         regions=("us-east-1", "eu-west-1"), events_per_day=500.0,
                         idle_day_share=0.0, diurnal=False)
    )  # fmt: skip
    digest, ids, count = hashlib.sha256(), hashlib.sha256(), 0
    for account in [a.id for a in emu.world.accounts]:
        for region in emu.settings.regions:
            for insight in (False, True):
                events = emu.truth(account, region, start=emu.data_now() - 3 * 86400,
                                   insight=insight)  # fmt: skip
                digest.update(orjson.dumps(events))
                ids.update(orjson.dumps([[e["EventId"], e["EventTime"]] for e in events]))
                count += len(events)
                day: dict[str, Any] = {"start": emu.data_now() - 86400, "insight": insight}
                assert emu.truth(account, region, everything=True, **day) == (
                    emu.truth(account, region, **day)
                )
                arrivals = emu.arrivals(account, region, **day)
                assert list(arrivals.values()) == [
                    e["EventTime"] for e in emu.truth(account, region, **day)
                ]
    assert (count, ids.hexdigest()) == BEFORE_LAG
    assert digest.hexdigest() == BYTES


def test_delays_are_the_same_in_every_run_and_change_no_event() -> None:
    """Two emulators of one seed give every event the same arrival; with the lag on, the
    events themselves (everything) are those of the same seed without lag."""
    one, two = Emulator(_lagged()), Emulator(_lagged())
    off = Emulator(_lagged(faults=dict(LAG_OFF)))
    account = one.world.management.id
    day: dict[str, Any] = {"start": NOW_EPOCH - 86400}
    arrivals = one.arrivals(account, MANAGEMENT_REGION, everything=True, **day)
    assert len(arrivals) > 1000
    assert arrivals == two.arrivals(account, MANAGEMENT_REGION, everything=True, **day)
    everything = one.truth(account, MANAGEMENT_REGION, everything=True, **day)
    delays = [arrivals[e["EventId"]] - e["EventTime"] for e in everything]
    assert len(set(delays)) > 100  # drawn, not one constant
    assert everything == off.truth(account, MANAGEMENT_REGION, **day)


@pytest.mark.parametrize(
    ("median", "tail_share", "tail_max"), [(270.0, 0.05, 900.0), (60.0, 0.2, 3600.0)]
)
def test_the_delays_follow_their_settings(
    median: float, tail_share: float, tail_max: float
) -> None:
    """Over ~10,000 events: the body (delays under 2 x median) has its median within 4 %
    of `lag_median`, the tail (the rest) is `lag_tail_share` of events within 1 point,
    and no delay passes `lag_tail_max` (the latest comes within 3 % of it)."""
    lag = {"lag_median": median, "lag_tail_share": tail_share, "lag_tail_max": tail_max}
    emu = Emulator(_lagged(events_per_day=200_000.0, faults=lag))
    account = emu.world.management.id
    start = emu.data_now() - 12 * 3600
    events = emu.truth(account, MANAGEMENT_REGION, start=start, everything=True)
    arrivals = emu.arrivals(account, MANAGEMENT_REGION, start=start, everything=True)
    delays = [arrivals[e["EventId"]] - e["EventTime"] for e in events]
    assert len(delays) > 8000
    body = [d for d in delays if d < 2 * median]
    assert abs(statistics.median(body) - median) <= 0.04 * median
    assert abs((len(delays) - len(body)) / len(delays) - tail_share) <= 0.01
    assert min(delays) >= 0 and max(delays) <= tail_max
    assert max(delays) >= 0.97 * tail_max


def test_an_event_shows_only_once_the_clock_passes_its_arrival() -> None:
    """The latest-arriving event is not in LookupEvents a second before its arrival and is
    at its arrival; at each step every page equals the ground truth of that moment."""
    with EmulatorThread(_lagged()) as emu:
        account = _account(emu)
        arrivals = emu.arrivals(account, MANAGEMENT_REGION, start=WINDOW_START, everything=True)
        event_id, arrival = max(arrivals.items(), key=lambda item: item[1])
        assert arrival > NOW_EPOCH  # happened before now, not delivered yet
        ct = client(emu, "cloudtrail")
        by_id = [{"AttributeKey": "EventId", "AttributeValue": event_id}]
        for now, shown in ((NOW_EPOCH, False), (arrival - 1, False), (arrival, True)):
            assert emu.set_now(now) == now
            found = ct.lookup_events(StartTime=WINDOW_START, LookupAttributes=by_id)["Events"]
            assert bool(found) is shown
            got = _lookup(emu)
            assert got == _truth(emu)
            assert (event_id in _ids(got)) is shown


def test_a_late_event_lands_behind_newer_ones_already_seen() -> None:
    """Of two undelivered events, the older one arriving last: once the newer one shows,
    the older is missing; when it arrives it shows *behind* it, as in CloudTrail."""
    with EmulatorThread(_lagged()) as emu:
        account = _account(emu)
        everything = emu.truth(account, MANAGEMENT_REGION, start=WINDOW_START, everything=True)
        arrivals = emu.arrivals(account, MANAGEMENT_REGION, start=WINDOW_START, everything=True)
        late = [e for e in everything if arrivals[e["EventId"]] > NOW_EPOCH]  # newest first
        newer, older = next(
            (a, b)
            for i, a in enumerate(late)
            for b in late[i + 1 :]
            if a["EventTime"] > b["EventTime"] and arrivals[b["EventId"]] > arrivals[a["EventId"]]
        )
        emu.set_now(arrivals[newer["EventId"]])
        seen = _ids(_lookup(emu))
        assert newer["EventId"] in seen and older["EventId"] not in seen
        emu.set_now(arrivals[older["EventId"]])
        now_seen = _ids(_lookup(emu))
        assert now_seen.index(older["EventId"]) > now_seen.index(newer["EventId"])
        assert now_seen == _ids(_truth(emu))


def test_a_next_token_used_after_a_clock_step_sees_what_arrived_behind_it() -> None:
    """A NextToken taken at one data time and used 15 minutes later still works: its walk
    goes on from its position and finds the events older than it that arrived since,
    while those newer than it (new calls included) are left to a query from the top."""
    with EmulatorThread(_lagged()) as emu:
        ct = client(emu, "cloudtrail")
        first = ct.lookup_events(StartTime=WINDOW_START, MaxResults=5)
        before = _ids(_truth(emu))
        emu.advance(900)
        rest: list[str] = []
        token = first["NextToken"]
        while token:
            page = ct.lookup_events(StartTime=WINDOW_START, MaxResults=50, NextToken=token)
            rest += _ids(page["Events"])
            token = page.get("NextToken")
        after = _ids(_truth(emu))
        position = after.index(first["Events"][-1]["EventId"])
        assert rest == after[position + 1 :]
        assert set(rest) - set(before)  # arrived in between, behind the token's position
        assert set(after[:position]) - set(before)  # arrived in between, ahead of it: missed


def test_an_hour_half_in_the_future_comes_out_the_same_once_past() -> None:
    """The clock stands mid-hour, then an hour on: the events up to the first time are the
    same (an hour is a pure function of itself), later ones were never shown early, and a
    new emulator started at the later time serves the same events."""
    later = NOW + timedelta(minutes=90)
    with EmulatorThread(_lagged(now=NOW + timedelta(minutes=30))) as emu:
        account, t0 = _account(emu), NOW_EPOCH + 1800
        happened = emu.truth(account, MANAGEMENT_REGION, start=NOW_EPOCH, everything=True)
        shown = _lookup(emu)
        assert max(e["EventTime"] for e in happened) <= t0
        assert max(e["EventTime"] for e in shown) <= t0
        assert emu.advance(3600) == int(later.timestamp())
        kept = emu.truth(account, MANAGEMENT_REGION, start=NOW_EPOCH, end=t0, everything=True)
        assert kept == happened
        shown_later = _lookup(emu)
        assert set(_ids(shown)) <= set(_ids(shown_later))
        assert max(e["EventTime"] for e in shown_later) > t0
        assert max(e["EventTime"] for e in shown_later) <= int(later.timestamp())
        fresh = Emulator(_lagged(now=later))
        assert fresh.truth(account, MANAGEMENT_REGION, start=WINDOW_START) == _truth(emu)


def test_the_data_clock_runs_at_its_speed_and_never_backwards() -> None:
    """clock_speed 60 turns a wall-clock second into a data minute; steps add to it; a
    new speed starts from where it stands; a step back is refused and changes nothing."""
    wall = ManualClock()
    emu = Emulator(_lagged(clock_speed=60.0), clock=wall)
    assert emu.data_now() == NOW_EPOCH
    wall.advance(10)
    assert emu.data_now() == NOW_EPOCH + 600
    assert emu.data_clock.advance(5) == NOW_EPOCH + 605
    emu.data_clock.set_speed(0)
    wall.advance(100)
    assert emu.data_now() == NOW_EPOCH + 605
    with pytest.raises(SettingsError, match="only forward"):
        emu.data_clock.set(NOW_EPOCH)
    with pytest.raises(SettingsError, match="only forward"):
        emu.data_clock.advance(-1)
    assert emu.data_clock.as_dict() == {"now": NOW_EPOCH + 605, "speed": 0.0}
    realtime = Emulator(_lagged(realtime=True), clock=wall)
    wall.advance(7)
    assert realtime.data_now() == NOW_EPOCH + 7 and realtime.data_clock.speed == 1.0


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"realtime": True, "clock_speed": 5.0}, "not both"),
        ({"clock_speed": -1.0}, "clock_speed"),
        ({"clock_speed": float("nan")}, "clock_speed"),
        ({"clock_speed": "fast"}, "clock_speed"),
    ],
)
def test_a_clock_speed_it_cannot_take_is_refused(changes: dict[str, Any], match: str) -> None:
    """A negative, NaN or non-number speed, or realtime with another speed: SettingsError."""
    with pytest.raises(SettingsError, match=match):
        _lagged(**changes)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"rate": -1.0}, "'rate' must be a number >= 0"),
        ({"latency_ms": float("inf")}, "'latency_ms'"),
        ({"error_rate": 1.5}, "'error_rate' must be a share"),
        ({"lag_median": -1.0}, "'lag_median'"),
        ({"lag_tail_share": 2.0}, "'lag_tail_share'"),
        ({"lag_median": 600.0, "lag_tail_max": 300.0}, "'lag_tail_max' must be at least"),
    ],
)
def test_faults_out_of_range_are_refused(changes: dict[str, Any], match: str) -> None:
    """Faults refuse negative, infinite and out-of-range numbers, and a lag maximum below
    its median, when made and when patched; a refused patch changes nothing."""
    with pytest.raises(SettingsError, match=match):
        Faults(**changes)
    faults = Faults()
    with pytest.raises(SettingsError, match=match):
        faults.update({"burst": 9.0, **changes})
    assert faults == Faults()
