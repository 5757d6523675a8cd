"""The public API: `import trailsweep` is all a program needs, every name it offers is
documented with an example, and its sweeps give the emulator's ground truth, two at once
in one event loop, from a plain iterator inside a running loop, to a resumable file and
for one account and region.

Expected events come from the emulator's truth and this file's own statement of the
NDJSON line (`expected`), never from the client's formatting code."""

from __future__ import annotations

import importlib.metadata
import inspect
import subprocess
import sys
import threading
import time
import types
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

import trailsweep
from trailsweep.emulator import EmulatorThread

from support import NOW_EPOCH, settings

ROOT = Path(__file__).parents[1]
START, END = NOW_EPOCH - 3 * 3600, NOW_EPOCH
REGIONS = ("us-east-1", "eu-west-1")

# The NDJSON line, as README.md and docs/design.md state it: these keys in this order,
# EventTime as ISO 8601 UTC with Z, missing fields left out, CloudTrailEvent parsed
# (or the API's string with raw).
KEYS = ("EventId", "EventName", "EventSource", "Username", "AccessKeyId", "ReadOnly", "Resources")

Line = list[tuple[str, Any]]  # a line's keys and values, in order


def expected(
    emu: EmulatorThread, *, start: int = START, end: int = END, raw: bool = False
) -> list[Line]:
    """Every event of every account and region of `emu` in the window, newest first, ties
    by account, region, then API order (docs/design.md invariant 3)."""
    found: list[tuple[tuple[int, str, str, int], Line]] = []
    for account in sorted(a.id for a in emu.emulator.world.accounts):
        for region in sorted(REGIONS):
            for i, e in enumerate(emu.truth(account, region, start=start, end=end)):
                line: Line = [("account", account), ("region", region)]
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e["EventTime"]))
                line.append(("EventTime", stamp))
                line.extend((k, e[k]) for k in KEYS if e.get(k) is not None)
                record = e["CloudTrailEvent"]
                line.append(("CloudTrailEvent", record if raw else orjson.loads(record)))
                found.append(((-int(e["EventTime"]), account, region, i), line))
    return [line for _, line in sorted(found, key=lambda item: item[0])]


def parsed(line: bytes) -> Line:
    assert line.endswith(b"\n") and line.count(b"\n") == 1, line
    return list(orjson.loads(line).items())


def sweep_settings(emu: EmulatorThread, **given: Any) -> trailsweep.SweepSettings:
    """Every account and region of `emu`, in the test window, as its management account."""
    info = emu.emulator.ready_info()
    keywords: dict[str, Any] = {
        "accounts": "org", "regions": "all", "start_time": str(START), "end_time": str(END),
        "endpoint_url": info["url"], "region": info["region"], "rate": 50.0,
        "access_key_id": info["access_key_id"], "secret_access_key": info["secret_access_key"],
    }  # fmt: skip
    keywords.update(given)
    return trailsweep.SweepSettings.build(**keywords)


def emulator(seed: int = 7, **kw: Any) -> EmulatorThread:
    faults = kw.pop("faults", {"rate": 50.0, "burst": 50.0})
    return EmulatorThread(settings(members=2, suspended=0, seed=seed, faults=faults, **kw))


# the names ------------------------------------------------------------------------------
def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted, and it is every public name of the module: none left out, none
    that is not there."""
    names = trailsweep.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(trailsweep, name) is not None, name
    public = {
        name
        for name in dir(trailsweep)
        if not name.startswith("_") and not isinstance(getattr(trailsweep, name), types.ModuleType)
    }
    assert public == set(names) - {"__version__"}
    namespace: dict[str, Any] = {}
    exec("from trailsweep import *", namespace)  # what a star import gives
    assert set(namespace) - {"__builtins__"} == set(names)


@pytest.mark.parametrize("name", sorted(set(trailsweep.__all__) - {"__version__"}))
def test_every_public_name_shows_its_use(name: str) -> None:
    """Each public name's docstring says what it is and shows it in use: an example block
    (a line ending in `::`, then indented lines) that names it."""
    doc = inspect.getdoc(getattr(trailsweep, name))
    assert doc, f"{name} has no docstring"
    lines = doc.splitlines()
    assert lines[0].strip() and not lines[0].startswith(" "), f"{name}: no summary line"
    examples = []
    for i, line in enumerate(lines):
        if line.rstrip().endswith("::"):
            block = []
            for code in lines[i + 1 :]:
                if code.strip() and not code.startswith("    "):
                    break
                block.append(code)
            examples.append("\n".join(block))
    assert examples and all(e.strip() for e in examples), f"{name}: no example block"
    assert any(name in e for e in examples), f"{name}: its example does not use it"


def test_version_is_written_once_in_pyproject() -> None:
    """__version__ is the installed package's (pyproject.toml's); README.md does not
    repeat it."""
    version = importlib.metadata.version("trailsweep")
    assert trailsweep.__version__ == version
    assert f'version = "{version}"' in (ROOT / "pyproject.toml").read_text()
    assert f"trailsweep {version}" not in (ROOT / "README.md").read_text()


def test_importing_the_emulator_does_not_load_the_client() -> None:
    """The re-exports load when first used: `trailsweep emulator` and the tests' servers
    import trailsweep/__init__.py without the client, aioboto3 or botocore."""
    code = "import sys, trailsweep.emulator; print({'aioboto3', 'botocore'} & set(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert out.stdout == b"set()\n", out.stderr.decode()


# open_sweep -----------------------------------------------------------------------------
def test_two_sweeps_at_once_in_one_event_loop_each_give_their_own_truth() -> None:
    """Two open_sweeps in one event loop, both part-way through at the same moment,
    against two emulators with different seeds: each yields exactly its own emulator's
    events, and its report counts what it yielded."""
    with emulator(seed=3) as one, emulator(seed=11) as two:
        runs = {"one": sweep_settings(one, page_size=5), "two": sweep_settings(two, page_size=5)}
        got: dict[str, list[Line]] = {}
        reports: dict[str, trailsweep.SweepReport] = {}

        async def both() -> None:
            started = {key: anyio.Event() for key in runs}

            async def run(key: str, other: str) -> None:
                async with trailsweep.open_sweep(runs[key]) as events:
                    lines = got.setdefault(key, [])
                    async for event in events:
                        lines.append(parsed(event.ndjson()))
                        if len(lines) == 1:  # hold on until the other one is running too
                            started[key].set()
                            await started[other].wait()
                reports[key] = events.report

            async with anyio.create_task_group() as tg:
                tg.start_soon(run, "one", "two")
                tg.start_soon(run, "two", "one")

        anyio.run(both)
        want = {"one": expected(one), "two": expected(two)}
    assert want["one"] != want["two"] and len(want["one"]) > 20 and len(want["two"]) > 20
    for key in runs:
        assert got[key] == want[key], key
        report = reports[key]
        assert report.events == len(got[key]) == report.as_dict()["events"]
        assert report.exit_code == 0 and report.finished is not None
        assert report.calls >= len(report.pairs) == 3 * len(REGIONS)


def test_open_sweep_honours_raw_unordered_lean_and_max_items() -> None:
    """Settings decide: raw keeps CloudTrailEvent as the API's string, unordered keeps
    order only within a pair, lean=False still gives the same events, max_items stops."""
    with emulator() as emu:
        free = sweep_settings(emu, raw=True, unordered=True, lean=False)
        limited = sweep_settings(emu, max_items=7)

        async def run(s: trailsweep.SweepSettings) -> tuple[list[Line], trailsweep.SweepReport]:
            async with trailsweep.open_sweep(s) as events:
                lines = [parsed(event.ndjson()) async for event in events]
            return lines, events.report

        lines, report = anyio.run(run, free)
        first, capped = anyio.run(run, limited)
        want = expected(emu, raw=True)
        ordered = expected(emu)
    assert sorted(map(repr, lines)) == sorted(map(repr, want))
    assert all(isinstance(dict(line)["CloudTrailEvent"], str) for line in lines)
    for pair in {(dict(line)["account"], dict(line)["region"]) for line in want}:
        mine = [line for line in lines if (dict(line)["account"], dict(line)["region"]) == pair]
        assert mine == [
            line for line in want if (dict(line)["account"], dict(line)["region"]) == pair
        ]
    assert report.events == len(lines)
    assert first == ordered[:7] and capped.events == 7 and capped.exit_code == 0


def test_sweep_event_faces() -> None:
    """A SweepEvent shows its account, region, time, id, name and parsed record, and
    to_dict() is its NDJSON line."""
    with emulator() as emu:

        async def first() -> trailsweep.SweepEvent:
            async with trailsweep.open_sweep(sweep_settings(emu, max_items=1)) as events:
                return await anext(events)

        event = anyio.run(first)
        line = dict(expected(emu)[0])
        as_sent = dict(expected(emu, raw=True)[0])["CloudTrailEvent"]
    assert (event.account, event.region) == (line["account"], line["region"])
    assert event.time.isoformat().replace("+00:00", "Z") == line["EventTime"]
    assert (event.id, event.name) == (line["EventId"], line["EventName"])
    assert event.record == line["CloudTrailEvent"] and event.record["eventID"] == event.id
    assert list(event.to_dict().items()) == list(line.items())
    assert event.to_dict(raw=True)["CloudTrailEvent"] == as_sent  # the string, as sent


def test_errors_come_out_as_themselves() -> None:
    """A refused credential is a CredentialsError, not an exception group; nothing is
    yielded."""
    with emulator() as emu:
        wrong = sweep_settings(emu, secret_access_key="not-the-secret")

        async def run() -> list[trailsweep.SweepEvent]:
            async with trailsweep.open_sweep(wrong) as events:
                return [event async for event in events]

        with pytest.raises(trailsweep.CredentialsError, match="refused"):
            anyio.run(run)
        with pytest.raises(trailsweep.CredentialsError), trailsweep.iter_events(wrong) as it:
            list(it)


# iter_events ----------------------------------------------------------------------------
def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "trailsweep-iter-events"]


def test_iter_events_inside_a_running_event_loop() -> None:
    """Inside a coroutine (a Jupyter cell's situation) the plain iterator works: the
    sweep runs on its own thread, gives the truth, and its thread is gone after."""
    with emulator() as emu:
        s = sweep_settings(emu, page_size=5)

        async def cell() -> tuple[list[Line], trailsweep.SweepReport]:
            events = trailsweep.iter_events(s, buffer=2)
            return [parsed(event.ndjson()) for event in events], events.report

        lines, report = anyio.run(cell)
        want = expected(emu)
    assert lines == want
    assert report.events == len(lines) and report.exit_code == 0
    assert _threads() == []


def test_iter_events_stops_when_the_consumer_breaks() -> None:
    """Leaving the loop early stops the sweep: its thread ends, no more calls are made,
    and the report counts the events the consumer got."""
    with emulator(faults={"rate": 2.0}) as emu:  # the limiter's pace: many pages to go
        s = sweep_settings(emu, page_size=1, rate=2.0)
        with trailsweep.iter_events(s) as events:
            for n, _ in enumerate(events, 1):
                if n == 3:
                    break
        assert _threads() == []  # close() joined it: the sweep has stopped
        calls = emu.stats()["totals"]["calls"]
        want = expected(emu)
    assert events.report.events == 3
    assert calls < len(want) / 2  # page_size 1: a sweep left running makes one per event


# export ---------------------------------------------------------------------------------
def test_export_writes_the_truth_and_leaves_a_finished_export_alone(tmp_path: Path) -> None:
    """export writes what the CLI's --output would, checkpointed; awaited again it leaves
    the finished file as it is and reads its report back from the checkpoint."""
    out = tmp_path / "events.ndjson"
    with emulator() as emu:
        s = sweep_settings(emu)
        report = anyio.run(trailsweep.export, s, out)
        written = out.read_bytes()
        again = anyio.run(trailsweep.export, s, out)
        want = expected(emu)
    assert [parsed(line + b"\n") for line in written.splitlines()] == want
    assert report.events == len(want) and report.exit_code == 0
    assert (tmp_path / "events.ndjson.checkpoint.json").exists()
    assert out.read_bytes() == written
    assert again.events == report.events and again.exit_code == 0


def test_export_refuses_a_path_it_cannot_write_before_any_call(tmp_path: Path) -> None:
    """A missing directory is an InputError before any call."""
    with emulator() as emu:
        s = sweep_settings(emu)
        with pytest.raises(trailsweep.InputError, match="does not exist"):
            anyio.run(trailsweep.export, s, tmp_path / "nowhere" / "events.ndjson")
        assert emu.stats()["totals"]["calls"] == 0


# lookup_events --------------------------------------------------------------------------
def test_lookup_events_is_one_account_and_region() -> None:
    """lookup_events gives the caller's own account in one region, as the AWS CLI's
    lookup-events pages it; a sweep's settings of several accounts are refused."""
    with emulator() as emu:
        info = emu.emulator.ready_info()
        s = sweep_settings(emu, accounts=None, regions="eu-west-1")

        async def run(s: trailsweep.SweepSettings) -> list[Line]:
            async with aclosing(trailsweep.lookup_events(s)) as events:
                return [parsed(event.ndjson()) async for event in events]

        lines = anyio.run(run, s)
        mine = [line for line in expected(emu) if dict(line)["account"] == info["account"]]
        with pytest.raises(trailsweep.InputError, match="own account"):
            anyio.run(run, sweep_settings(emu))
    assert lines == [line for line in mine if dict(line)["region"] == "eu-west-1"]
    assert len(lines) > 5


def test_lookup_events_raises_the_pairs_failure() -> None:
    """With one pair there is none to go on with: AccessDenied is raised as PairFailed."""
    with emulator() as emu:
        me = emu.emulator.ready_info()["account"]
        emu.set_faults(deny_accounts=[me])

        async def run() -> list[trailsweep.SweepEvent]:
            s = sweep_settings(emu, accounts=None, regions=None, region="us-east-1")
            async with aclosing(trailsweep.lookup_events(s)) as events:
                return [event async for event in events]

        with pytest.raises(trailsweep.PairFailed) as failed:
            anyio.run(run)
    assert (failed.value.account, failed.value.region) == (me, "us-east-1")
    assert failed.value.code == "AccessDeniedException"
