"""trailsweep.testing with delivery lag: a user's test steps the data clock and reads the
truth as of a time, everything, and when each event arrives."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from trailsweep.emulator import AWS_LAG, Faults, SettingsError
from trailsweep.testing import RunningEmulator, running_emulator

# One pair with about 50 events an hour: a page or two of LookupEvents at the real quota.
BUSY: dict[str, Any] = {
    "members": 0,
    "suspended": 0,
    "regions": ("us-east-1",),
    "events_per_day": 1200.0,
}


def _lookup_ids(emu: RunningEmulator, start: int) -> list[str]:
    c = emu.connection
    ct = boto3.session.Session().client(
        "cloudtrail", region_name=c["region"], endpoint_url=c["endpoint_url"],
        aws_access_key_id=c["access_key_id"], aws_secret_access_key=c["secret_access_key"],
    )  # fmt: skip
    pages = ct.get_paginator("lookup_events").paginate(StartTime=start)
    return [e["EventId"] for page in pages for e in page["Events"]]


def test_a_test_steps_the_clock_and_the_truth_follows() -> None:
    """lag=True: what `truth(as_of=T)` promises is what LookupEvents shows once `advance`
    brings the clock to T; `arrivals` says which events were still on their way."""
    with running_emulator(seed=5, lag=True, **BUSY) as emu:
        start, t0 = emu.now - 3600, emu.now
        everything = emu.truth(emu.account, emu.region, start=start, everything=True)
        arrivals = emu.arrivals(emu.account, emu.region, start=start, everything=True)
        assert [e["EventId"] for e in everything] == list(arrivals)
        on_the_way = {i for i, t in arrivals.items() if t > t0}
        shown = emu.truth(emu.account, emu.region, start=start)
        assert on_the_way and {e["EventId"] for e in shown} == set(arrivals) - on_the_way
        assert _lookup_ids(emu, start) == [e["EventId"] for e in shown]
        ahead = emu.truth(emu.account, emu.region, start=start, as_of=t0 + 900)
        assert emu.advance(900) == t0 + 900 == emu.now
        assert emu.truth(emu.account, emu.region, start=start) == ahead
        assert _lookup_ids(emu, start) == [e["EventId"] for e in ahead]
        assert on_the_way <= {e["EventId"] for e in ahead}  # 15 minutes: all arrived
        assert emu.set_now(t0 + 1000) == t0 + 1000
        with pytest.raises(SettingsError, match="only forward"):
            emu.set_now(t0)
        emu.set_speed(0.0)
        assert emu.now == t0 + 1000


def test_lag_is_off_unless_asked_and_faults_may_shape_it() -> None:
    """Without lag=True every event arrives at once; with it, AWS_LAG, where `faults`
    given as a dict or as Faults may set any of the lag settings themselves."""
    with running_emulator(seed=5, **BUSY) as emu:
        arrivals = emu.arrivals(emu.account, emu.region, start=emu.now - 3600)
        times = emu.truth(emu.account, emu.region, start=emu.now - 3600)
        assert list(arrivals.values()) == [e["EventTime"] for e in times]
        assert emu.thread.emulator.faults.lag().off
    with running_emulator(seed=5, lag=True, faults={"lag_tail_max": 1800.0}, **BUSY) as emu:
        lag = emu.thread.emulator.faults
        assert (lag.lag_median, lag.lag_tail_share, lag.lag_tail_max) == (
            AWS_LAG["lag_median"], AWS_LAG["lag_tail_share"], 1800.0,
        )  # fmt: skip
    own = Faults(lag_median=10.0, lag_tail_max=20.0)
    with running_emulator(seed=5, lag=True, faults=own, **BUSY) as emu:
        assert emu.thread.emulator.faults.lag_tail_max == 20.0
