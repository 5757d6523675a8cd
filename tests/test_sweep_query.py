"""Every query option of `trailsweep sweep`, end to end through the CLI and real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from trailsweep.emulator import EmulatorThread
from trailsweep.settings.attributes import ATTRIBUTE_KEYS
from trailsweep.settings.timeparse import format_time, from_epoch

from inproc import run_here
from support import NOW_EPOCH, aws_env, expected_ndjson, run_cli, settings

START, END = NOW_EPOCH - 4 * 3600, NOW_EPOCH - 1
RATE = "40"  # client calls/s per pair; the emulator's quota is set to match


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    s = settings(members=2, suspended=0, events_per_day=600.0, faults={"rate": 40.0, "burst": 40.0})
    with EmulatorThread(s) as e:
        yield e


def _pairs(emu: EmulatorThread) -> list[tuple[str, str]]:
    return [(a.id, r) for a in emu.emulator.world.accounts for r in ("us-east-1", "eu-west-1")]


def _sweep(
    emu: EmulatorThread, *args: str, start: int = START, end: int = END, process: bool = False
) -> bytes:
    """The sweep's stdout: run in this process (inproc.run_here; the query is the subject),
    or with `process` as a process of its own, its NDJSON read from a pipe."""
    result = (run_cli if process else run_here)(
        [
            "sweep", "--accounts", "org", "--regions", "all", "--rate", RATE,
            "--start-time", format_time(from_epoch(start)),
            "--end-time", format_time(from_epoch(end)), *args,
        ],
        env=aws_env(emu),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def _value(emu: EmulatorThread, key: str) -> str:
    for account, region in _pairs(emu):
        for e in emu.truth(account, region, start=START, end=END)[5:]:
            if key in ("ResourceType", "ResourceName"):
                if e["Resources"]:
                    return str(e["Resources"][0][key])
            elif e.get(key):
                return str(e[key])
    raise AssertionError(key)


@pytest.mark.parametrize("key", ATTRIBUTE_KEYS)
def test_each_attribute_key(emu: EmulatorThread, key: str) -> None:
    """--lookup-attributes with each key gives the filtered ground truth of every pair."""
    value = _value(emu, key)
    got = _sweep(emu, "--lookup-attributes", f"AttributeKey={key},AttributeValue={value}")
    want = expected_ndjson(emu, _pairs(emu), start=START, end=END, attribute=(key, value))
    assert got == want
    assert got


def test_unfiltered_and_raw(emu: EmulatorThread) -> None:
    """No filter gives everything; --raw keeps CloudTrailEvent as the API's string."""
    assert _sweep(emu, process=True) == expected_ndjson(emu, _pairs(emu), start=START, end=END)
    raw = _sweep(emu, "--raw")
    assert raw == expected_ndjson(emu, _pairs(emu), start=START, end=END, raw=True)
    first = orjson.loads(raw.splitlines()[0])
    assert isinstance(first["CloudTrailEvent"], str)
    assert list(first)[:3] == ["account", "region", "EventTime"]


def test_time_bounds_are_inclusive(emu: EmulatorThread) -> None:
    """--start-time and --end-time equal to one event's second return all of that second."""
    busiest = max(_pairs(emu), key=lambda p: len(emu.truth(*p, start=START, end=END)))
    second = emu.truth(*busiest, start=START, end=END)[10]["EventTime"]
    got = _sweep(emu, start=second, end=second)
    assert got == expected_ndjson(emu, _pairs(emu), start=second, end=second)
    assert all(f'"EventTime":"{format_time(from_epoch(second))}"'.encode() in line
               for line in got.splitlines())  # fmt: skip


def test_insight_category(emu: EmulatorThread) -> None:
    """--event-category insight sweeps Insights events."""
    start = NOW_EPOCH - 40 * 86400
    got = _sweep(emu, "--event-category", "insight", start=start)
    assert got == expected_ndjson(emu, _pairs(emu), start=start, end=END, insight=True)
    assert got


def test_max_items_is_the_newest_n_overall(emu: EmulatorThread) -> None:
    """--max-items 7 gives the first 7 lines of the full ordered sweep."""
    full = expected_ndjson(emu, _pairs(emu), start=START, end=END)
    assert _sweep(emu, "--max-items", "7") == b"".join(full.splitlines(keepends=True)[:7])


def test_page_size_changes_calls_not_output(emu: EmulatorThread) -> None:
    """--page-size 5 gives the same bytes with about ten times the calls."""
    emu.call(emu.emulator.quota.reset)
    assert _sweep(emu, "--page-size", "5") == expected_ndjson(
        emu, _pairs(emu), start=START, end=END
    )
    small = emu.stats()["totals"]["calls"]
    emu.call(emu.emulator.quota.reset)
    _sweep(emu)
    assert small >= 5 * emu.stats()["totals"]["calls"]


def test_cli_input_json_and_flags_override(emu: EmulatorThread, tmp_path: Path) -> None:
    """--cli-input-json file:// supplies the query; a flag given as well wins over it."""
    value = _value(emu, "EventName")
    doc: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": value}],
        "StartTime": format_time(from_epoch(NOW_EPOCH - 86400)),
        "MaxResults": 10,
    }
    path = tmp_path / "input.json"
    path.write_bytes(orjson.dumps(doc))
    got = _sweep(emu, "--cli-input-json", f"file://{path}")  # START flag overrides StartTime
    assert got == expected_ndjson(
        emu, _pairs(emu), start=START, end=END, attribute=("EventName", value)
    )
    inline = _sweep(emu, "--cli-input-json", orjson.dumps(doc).decode())
    assert inline == got


@pytest.mark.parametrize("kind", ["input", "output"])
def test_generate_cli_skeleton_matches_the_aws_cli(kind: str) -> None:
    """The skeletons are the AWS CLI's, key for key."""
    result = run_here(["sweep", "--generate-cli-skeleton", kind])
    assert result.returncode == 0
    doc = orjson.loads(result.stdout)
    if kind == "input":
        assert list(doc) == [
            "LookupAttributes", "StartTime", "EndTime", "EventCategory", "MaxResults", "NextToken"
        ]  # fmt: skip
    else:
        assert list(doc) == ["Events", "NextToken"]
        assert list(doc["Events"][0]) == [
            "EventId", "EventName", "ReadOnly", "AccessKeyId", "EventTime", "EventSource",
            "Username", "Resources", "CloudTrailEvent",
        ]  # fmt: skip


def test_unordered_writes_the_same_events_in_pair_order(emu: EmulatorThread) -> None:
    """--unordered: the same lines, each pair's in its own order, nothing lost or doubled."""
    ordered = expected_ndjson(emu, _pairs(emu), start=START, end=END).splitlines()
    got = _sweep(emu, "--unordered").splitlines()
    assert sorted(got) == sorted(ordered)
    for account, region in _pairs(emu):
        tag = f'"account":"{account}","region":"{region}"'.encode()
        assert [x for x in got if tag in x] == [x for x in ordered if tag in x]
