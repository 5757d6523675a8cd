"""trailsweep.testing: the emulator fixture and the virtual clock, as a user's test uses them."""

from __future__ import annotations

import subprocess
import sys

import anyio
import boto3
import orjson
import pytest

from trailsweep.emulator import SettingsError
from trailsweep.testing import ManualClock, running_emulator


def test_running_emulator_yields_working_keys_and_the_ground_truth() -> None:
    """The keys it yields sign calls the emulator accepts, and boto3's own paginator over
    LookupEvents returns exactly `truth` for the same pair and window."""
    with running_emulator(seed=11, members=1, suspended=0, regions=("eu-west-1",)) as emu:
        assert emu.region == "eu-west-1" and emu.regions == ("eu-west-1",)
        assert emu.accounts[0] == emu.account and len(emu.accounts) == 2
        c = emu.connection
        ct = boto3.session.Session().client(
            "cloudtrail", region_name=c["region"], endpoint_url=c["endpoint_url"],
            aws_access_key_id=c["access_key_id"], aws_secret_access_key=c["secret_access_key"],
        )  # fmt: skip
        window = {"StartTime": emu.now - 6 * 3600, "EndTime": emu.now}
        got = [
            e["EventId"]
            for page in ct.get_paginator("lookup_events").paginate(**window)
            for e in page["Events"]
        ]
        truth = emu.truth(emu.account, emu.region, start=window["StartTime"], end=emu.now)
        assert got and got == [e["EventId"] for e in truth]


def test_its_env_sends_a_cli_there() -> None:
    """`env()` points a subprocess (here `trailsweep lookup-events`) at the emulator as its
    management account: the newest event it prints is the truth's newest."""
    with running_emulator(seed=12, members=0, suspended=0, regions=("us-east-1",)) as emu:
        ran = subprocess.run(
            [sys.executable, "-m", "trailsweep", "lookup-events", "--max-items", "1"],
            env=emu.env(), capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        printed = orjson.loads(ran.stdout)["Events"]
        assert [e["EventId"] for e in printed] == [emu.truth(emu.account, emu.region)[0]["EventId"]]


def test_two_seeds_are_two_organizations() -> None:
    """Two emulators side by side never answer alike: other accounts, other keys."""
    with running_emulator(seed=1) as one, running_emulator(seed=2) as two:
        assert one.url != two.url
        assert set(one.accounts).isdisjoint(two.accounts)
        assert one.access_key_id != two.access_key_id
        assert one.secret_access_key != two.secret_access_key


def test_a_setting_it_cannot_take_is_refused_before_it_starts() -> None:
    """A bad setting raises the emulator's own SettingsError, naming it."""
    with pytest.raises(SettingsError, match="at least one region"), running_emulator(regions=()):
        raise AssertionError("never started")


def test_the_manual_clock_jumps_inside_sleep() -> None:
    """ManualClock's sleep moves its time at once and records what was asked."""
    clock = ManualClock(start=10.0, wall=1_000.0)

    async def nap() -> None:
        await clock.sleep(2.5)

    anyio.run(nap)
    assert clock.monotonic() == 12.5 and clock.wall() == 1_002.5 and clock.slept == [2.5]
