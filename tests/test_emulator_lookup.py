"""LookupEvents through boto3's own paginator returns exactly the emulator's ground truth."""

from __future__ import annotations

from typing import Any

import pytest

from trailsweep.emulator import EmulatorThread
from trailsweep.settings.attributes import ATTRIBUTE_KEYS

from support import NOW_EPOCH, client, member_creds, paginate

WINDOW = {"StartTime": NOW_EPOCH - 6 * 3600, "EndTime": NOW_EPOCH}


def _window_truth(emu: EmulatorThread, account: str, region: str, **kw: Any) -> list[Any]:
    return emu.truth(account, region, start=WINDOW["StartTime"], end=WINDOW["EndTime"], **kw)


def _busiest_region(emu: EmulatorThread) -> str:
    """The management account's region with the most events in the window."""
    account = emu.emulator.world.management.id
    regions = emu.emulator.world.enabled_regions(account)
    return max(regions, key=lambda r: len(_window_truth(emu, account, r)))


def test_unfiltered_pages_equal_truth_for_management_and_member(fast_emu: EmulatorThread) -> None:
    """Every pair, no filter: same events, same order as the ground truth."""
    world = fast_emu.emulator.world
    sizes = []
    for account in [a.id for a in world.accounts if a.status == "ACTIVE"]:
        creds = None if account == world.management.id else member_creds(fast_emu, account)
        for region in world.enabled_regions(account):
            ct = client(fast_emu, "cloudtrail", region, creds)
            got = paginate(ct, **WINDOW)
            assert got == _window_truth(fast_emu, account, region)
            sizes.append(len(got))
    assert sum(n > 0 for n in sizes) >= len(sizes) // 2  # some pairs may have an idle day
    assert sum(sizes) > 200


@pytest.mark.parametrize("key", ATTRIBUTE_KEYS)
def test_each_attribute_key_filters_exactly(fast_emu: EmulatorThread, key: str) -> None:
    """For each of the 8 keys, a value taken from real events selects exactly its truth."""
    account, region = fast_emu.emulator.world.management.id, _busiest_region(fast_emu)
    events = _window_truth(fast_emu, account, region)
    value = _pick(key, events)
    ct = client(fast_emu, "cloudtrail", region)
    got = paginate(ct, LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}], **WINDOW)
    want = _window_truth(fast_emu, account, region, attribute=(key, value))
    assert got == want
    assert 0 < len(got) <= len(events)
    assert all(_has(key, value, e) for e in got)


def _pick(key: str, events: list[dict[str, Any]]) -> str:
    """A value of `key` from an event in the middle of the list."""
    for e in events[len(events) // 3 :]:
        if key in ("ResourceType", "ResourceName"):
            if e["Resources"]:
                return str(e["Resources"][0][key])
        elif e.get(key):
            return str(e[key])
    raise AssertionError(f"no event has {key}")


def _has(key: str, value: str, event: dict[str, Any]) -> bool:
    if key in ("ResourceType", "ResourceName"):
        return any(r.get(key) == value for r in event["Resources"])
    return event.get(key) == value


def test_time_bounds_are_inclusive(fast_emu: EmulatorThread) -> None:
    """StartTime == EndTime == an event's second returns every event of that second."""
    account, region = fast_emu.emulator.world.management.id, _busiest_region(fast_emu)
    events = _window_truth(fast_emu, account, region)
    second = events[3]["EventTime"]
    ct = client(fast_emu, "cloudtrail", region)
    got = paginate(ct, StartTime=second, EndTime=second)
    assert got == [e for e in events if e["EventTime"] == second]
    assert got


@pytest.mark.parametrize("size", range(1, 51))
def test_max_results_pages_concatenate_to_truth(fast_emu: EmulatorThread, size: int) -> None:
    """Any MaxResults from 1 to 50 gives the same events, in pages of at most that size."""
    account = fast_emu.emulator.world.management.id
    ct = client(fast_emu, "cloudtrail", "eu-west-1")
    window = {"StartTime": NOW_EPOCH - 5400, "EndTime": NOW_EPOCH}
    pages = list(
        ct.get_paginator("lookup_events").paginate(PaginationConfig={"PageSize": size}, **window)
    )
    assert all(len(p["Events"]) <= size for p in pages)
    assert all("NextToken" in p for p in pages[:-1]) and "NextToken" not in pages[-1]
    got = [int(e["EventTime"].timestamp()) for p in pages for e in p["Events"]]
    truth = fast_emu.truth(account, "eu-west-1", start=window["StartTime"], end=window["EndTime"])
    assert got == [e["EventTime"] for e in truth]


def test_insight_category_returns_insight_events_only(fast_emu: EmulatorThread) -> None:
    """EventCategory insight serves the Insights stream, which the ground truth agrees with."""
    account = fast_emu.emulator.world.management.id
    ct = client(fast_emu, "cloudtrail", "us-east-1")
    start = NOW_EPOCH - 30 * 86400
    got = paginate(ct, EventCategory="insight", StartTime=start, EndTime=NOW_EPOCH)
    truth = fast_emu.truth(account, "us-east-1", start=start, end=NOW_EPOCH, insight=True)
    assert got == truth
    assert got
    assert all('"eventCategory":"Insight"' in e["CloudTrailEvent"] for e in got)


def test_default_window_is_last_90_days(fast_emu: EmulatorThread) -> None:
    """Without times, the last page of MaxResults=50 starts at the newest event before now."""
    account = fast_emu.emulator.world.management.id
    ct = client(fast_emu, "cloudtrail", "us-east-1")
    page = ct.lookup_events(MaxResults=5)
    want = fast_emu.truth(account, "us-east-1")[:5]
    assert [int(e["EventTime"].timestamp()) for e in page["Events"]] == [
        e["EventTime"] for e in want
    ]
    assert page["NextToken"]
