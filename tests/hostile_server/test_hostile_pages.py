"""A LookupEvents server that lies: each lie fails its pair alone with one
`InvalidResponse` line, the other pair is written completely, and no line is written that
should not be; on the lean path, the aioboto3 path, the sweep command and lookup-events."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from aiohttp import web

from trailsweep.aws.page_check import MAX_IDLE_PAGES
from trailsweep.cli.app import main
from trailsweep.emulator import EmulatorThread
from trailsweep.emulator.tamper import Call, Honest, Tamper
from trailsweep.engine.merge import merge_chunks
from trailsweep.engine.pair import Cursor, PairState, SweepEvent
from trailsweep.engine.sweep import SweepReport, sweep
from trailsweep.settings.config import Options, SweepSettings, build_config
from trailsweep.settings.timeparse import format_time, from_epoch

from hostile import answer, json_answer, rewrite_pages
from support import LINE_KEYS, NOW_EPOCH, UseEmu, expected_ndjson, settings

START, END = NOW_EPOCH - 3 * 3600, NOW_EPOCH - 1
GOOD, BAD = "us-east-1", "eu-west-1"  # the tampers lie to BAD only
PAGE = 5
WINDOW = [
    "--start-time",
    format_time(from_epoch(START)),
    "--end-time",
    format_time(from_epoch(END)),
]

Page = dict[str, Any]


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    quick = settings(
        members=1,
        suspended=0,
        events_per_day=2000.0,
        faults={"rate": 10_000.0, "burst": 10_000.0},
    )
    with EmulatorThread(quick) as emu:
        yield emu


@pytest.fixture
def lying(emu: EmulatorThread) -> Iterator[Callable[[Tamper], None]]:
    """`lying(tamper)`: answer BAD's LookupEvents calls with `tamper` for this test."""

    def apply(tamper: Tamper) -> None:
        async def only_bad(call: Call, honest: Honest) -> web.StreamResponse:
            if call.operation != "LookupEvents" or call.region != BAD:
                return await honest()
            return await tamper(call, honest)

        emu.set_tamper(only_bad)

    yield apply
    emu.set_tamper(None)


def _pages(rewrite: Callable[[Page, Call], Page]) -> Tamper:
    return rewrite_pages(rewrite)


def _const(body: bytes | str, content_type: str = "application/x-amz-json-1.1") -> Tamper:
    async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
        return answer(body, content_type=content_type)

    return tamper


# The lies ------------------------------------------------------------------------------------
def reversed_page() -> Tamper:
    """Out of order within a page: oldest first."""
    return _pages(lambda page, call: {**page, "Events": page["Events"][::-1]})


def newer_next_page() -> Tamper:
    """Out of order across pages: every later page is at the newest second of the window."""

    def rewrite(page: Page, call: Call) -> Page:
        if "NextToken" not in call.params:
            return page
        end = call.params["EndTime"]
        return {**page, "Events": [{**e, "EventTime": end} for e in page["Events"]]}

    return _pages(rewrite)


def same_token() -> Tamper:
    """The NextToken asked with comes back as the next one."""

    def rewrite(page: Page, call: Call) -> Page:
        if "NextToken" in call.params:
            return {**page, "NextToken": call.params["NextToken"]}
        return page

    return _pages(rewrite)


def endless_empty_pages() -> Tamper:
    """A new NextToken on every empty page, forever."""
    counter = itertools.count()

    async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
        return json_answer({"Events": [], "NextToken": f"more-{next(counter)}"})

    return tamper


Events = list[dict[str, Any]]


def _events(rewrite: Callable[[Events, Call], Events]) -> Tamper:
    """Each non-empty page's events replaced by `rewrite(events, call)`."""
    return _pages(
        lambda page, call: (
            {**page, "Events": rewrite(page["Events"], call)} if page["Events"] else page
        )
    )


def oversized_page() -> Tamper:
    """One event more than MaxResults (a distinct EventId at the last event's second)."""
    return _events(lambda ev, call: [*ev, {**ev[-1], "EventId": "extra-" + ev[-1]["EventId"]}])


def before_start() -> Tamper:
    """The last event of each page is one second before the StartTime asked for."""
    return _events(
        lambda ev, call: [*ev[:-1], {**ev[-1], "EventTime": call.params["StartTime"] - 1}]
    )


def after_end() -> Tamper:
    """The first event of each page is one second after the EndTime asked for."""
    return _events(lambda ev, call: [{**ev[0], "EventTime": call.params["EndTime"] + 1}, *ev[1:]])


def event_edit(edit: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[], Tamper]:
    """The first event of each page replaced by `edit(event)`."""
    return lambda: _events(lambda ev, call: [edit(ev[0]), *ev[1:]])


def record(value: Any) -> Callable[[], Tamper]:
    """The CloudTrailEvent of the first event of each page replaced by `value`."""
    return event_edit(lambda event: {**event, "CloudTrailEvent": value})


def body(
    text: bytes | str, content_type: str = "application/x-amz-json-1.1"
) -> Callable[[], Tamper]:
    return lambda: _const(text, content_type)


ENDLESS_MIB = 64


def endless_body(sent: list[int] | None = None) -> Tamper:
    """A 200 whose body never ends (stops at ENDLESS_MIB, so today's client is not stuck);
    the MiB written before the client hung up are appended to `sent`."""

    async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/x-amz-json-1.1"})
        await response.prepare(call.request)
        await response.write(b'{"Events": [], "padding": "')
        chunk = b"x" * (1 << 20)
        written = 0
        try:
            for _ in range(ENDLESS_MIB):
                await response.write(chunk)
                written += 1
            await response.write(b'"}')
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: what it should do
        finally:  # also when the server cancels the handler of a closed connection
            if sent is not None:
                sent.append(written)
        return response

    return tamper


def huge_body() -> Tamper:
    """A 200 announcing (and sending) a 17 MiB JSON body."""
    padding = b" " * (17 << 20)
    return _const(b'{"Events": []' + padding + b"}")


LIES: dict[str, tuple[Callable[[], Tamper], str]] = {
    "reversed page": (reversed_page, "newer than the event before it"),
    "newer next page": (newer_next_page, "newer than the page before ended"),
    "same token twice": (same_token, "same NextToken was received twice"),
    "endless empty pages": (endless_empty_pages, f"{MAX_IDLE_PAGES} pages in a row"),
    "more than MaxResults": (oversized_page, "6 events in a page asked for at most 5"),
    "before StartTime": (before_start, "outside the window"),
    "after EndTime": (after_end, "outside the window"),
    "record not JSON": (record("not json"), "CloudTrailEvent is not a JSON object"),
    "record array": (record("[1, 2]"), "CloudTrailEvent is not a JSON object"),
    "record number": (record("42"), "CloudTrailEvent is not a JSON object"),
    "record spliced": (record('{"a":1},"injected":"x"'), "CloudTrailEvent is not a JSON object"),
    "record not string": (record({"a": 1}), "CloudTrailEvent is not a JSON object"),
    "no EventTime": (
        event_edit(lambda e: {k: v for k, v in e.items() if k != "EventTime"}),
        "EventTime is not a number",
    ),
    "text EventTime": (
        event_edit(lambda e: {**e, "EventTime": "yesterday"}),
        "EventTime is not a number",
    ),
    "no EventId": (
        event_edit(lambda e: {k: v for k, v in e.items() if k != "EventId"}),
        "no EventId",
    ),
    "event not object": (event_edit(lambda e: 7), "is not an object"),  # type: ignore[arg-type,return-value]
    "body []": (body("[]"), "not a JSON object but []"),
    "body null": (body("null"), "not a JSON object but null"),
    "body {}": (body("{}"), "no Events list"),
    "Events null": (body('{"Events": null}'), "no Events list (Events: null)"),
    "Events string": (body('{"Events": "x"}'), 'no Events list (Events: "x")'),
    "NextToken number": (body('{"Events": [], "NextToken": 5}'), "NextToken is not a string"),
    "body not JSON": (body('{"Events": ['), "not JSON"),
    "HTML body": (body("<html><body>Sign in</body></html>", "text/html"), "not JSON"),
    "endless body": (endless_body, "response body is over 16,777,216 bytes"),
    "huge body": (huge_body, "response body is over 16,777,216 bytes"),
}


# Running the client --------------------------------------------------------------------------
def _config(emu: EmulatorThread) -> SweepSettings:
    info = emu.emulator.ready_info()
    opts = Options(
        accounts=[emu.emulator.world.management.id],
        regions=[GOOD, BAD],
        page_size=PAGE,
        start_time=WINDOW[1],
        end_time=WINDOW[3],
    )
    return dataclasses.replace(
        build_config(opts, now=datetime.now(UTC)),
        endpoint_url=info["url"],
        region=info["region"],
        access_key_id=info["access_key_id"],
        secret_access_key=info["secret_access_key"],
        rate=5000.0,  # the endless pages take MAX_IDLE_PAGES calls
    )


def _sweep(cfg: SweepSettings, *, lean: bool) -> tuple[bytes, SweepReport]:
    report = SweepReport()

    async def go() -> bytes:
        async with aclosing(sweep(dataclasses.replace(cfg, lean=lean), report=report)) as events:
            return b"".join([e.line(raw=cfg.raw) async for e in events])

    return anyio.run(go), report


def _truth(emu: EmulatorThread, region: str, *, raw: bool = False) -> bytes:
    pair = [(emu.emulator.world.management.id, region)]
    return expected_ndjson(emu, pair, start=START, end=END, raw=raw)


def _only(lines: bytes, region: str) -> list[bytes]:
    return [
        line for line in lines.splitlines(keepends=True) if orjson.loads(line)["region"] == region
    ]


def _check_lines(emu: EmulatorThread, out: bytes, *, raw: bool = False) -> None:
    """GOOD's lines are all there; BAD's are a newest-first prefix of the truth; every line is
    an object with our keys only and a CloudTrailEvent object (a string with --raw)."""
    good = _truth(emu, GOOD, raw=raw)
    assert b"".join(_only(out, GOOD)) == good
    assert good.count(b"\n") > 10
    bad = b"".join(_only(out, BAD))
    assert _truth(emu, BAD, raw=raw).startswith(bad)
    for line in out.splitlines():
        doc = orjson.loads(line)
        assert set(doc) <= set(LINE_KEYS)
        assert isinstance(doc["CloudTrailEvent"], str if raw else dict)


# Every lie on the lean path; on the aioboto3 path, those its own reading and parsing of the
# body meet (the pages themselves are checked by the same Pager code on both), and one page
# lie to show that.
AIOBOTO3_LIES = ["body not JSON", "HTML body", "body null", "endless body", "huge body",
                 "reversed page"]  # fmt: skip
PATHS = [(lie, True) for lie in LIES] + [(lie, False) for lie in AIOBOTO3_LIES]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("lie", "lean"), PATHS, ids=[f"{lie}-{'lean' if lean else 'aioboto3'}" for lie, lean in PATHS]
)
def test_a_lying_server_fails_its_pair_alone(
    emu: EmulatorThread, lying: Callable[[Tamper], None], lie: str, lean: bool
) -> None:
    """The lie fails BAD with InvalidResponse and says what it was; GOOD is complete."""
    make, needle = LIES[lie]
    lying(make())
    out, report = _sweep(_config(emu), lean=lean)
    assert [p.name for p in report.failed] == [f"{emu.emulator.world.management.id}/{BAD}"]
    error = report.failed[0].error or ""
    assert error.startswith("InvalidResponse: "), error
    assert needle in error, error
    assert "\n" not in error
    _check_lines(emu, out)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("raw", [False, True], ids=["record", "raw"])
def test_a_spliced_record_never_adds_a_field(
    emu: EmulatorThread, lying: Callable[[Tamper], None], raw: bool
) -> None:
    """'{"a":1},"injected":"x"' as CloudTrailEvent: no line carries "injected", with or
    without --raw."""
    lying(record('{"a":1},"injected":"x"')())
    out, report = _sweep(dataclasses.replace(_config(emu), raw=raw), lean=True)
    assert len(report.failed) == 1
    _check_lines(emu, out, raw=raw)
    assert all("injected" not in orjson.loads(line) for line in out.splitlines())


def repeated_ids() -> Tamper:
    """Pages of 4 asked as pages of 5, each with an event served before added: the first
    event twice on a first page, the last event of the page before on every later page."""
    last: dict[str, Any] = {}

    async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
        call.params["MaxResults"] = PAGE - 1
        response = await honest()
        assert isinstance(response, web.Response) and isinstance(response.body, bytes)
        page = orjson.loads(response.body)
        events = page["Events"]
        token = call.params.get("NextToken")
        if events and token is None:
            events.insert(1, events[0])
        elif events and token in last:
            events.insert(0, last[token])
        if events and page.get("NextToken"):
            last[page["NextToken"]] = events[-1]
        return json_answer(page)

    return tamper


@pytest.mark.timeout(60)
@pytest.mark.parametrize("lean", [True, False], ids=["lean", "aioboto3"])
def test_an_event_served_twice_is_written_once(
    emu: EmulatorThread, lying: Callable[[Tamper], None], lean: bool
) -> None:
    """The same EventId again at the same second (in a page, across pages): written once,
    and the sweep is complete: the output is the truth."""
    lying(repeated_ids())
    out, report = _sweep(_config(emu), lean=lean)
    assert report.failed == []
    assert out == expected_ndjson(
        emu, [(emu.emulator.world.management.id, r) for r in (GOOD, BAD)], start=START, end=END
    )


# The commands ---------------------------------------------------------------------------
def _main(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> tuple[int, bytes, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsysbinary.readouterr()
    code = exit_info.value.code
    return int(code) if isinstance(code, int) else 1, out, err.decode()


COMMAND_LIES = [
    "reversed page",
    "same token twice",
    "Events null",
    "HTML body",
    "record spliced",
    "before StartTime",
    "endless body",
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("lie", COMMAND_LIES)
def test_the_sweep_command_exits_1_and_writes_the_good_pair(
    emu: EmulatorThread,
    use_emu: UseEmu,
    lying: Callable[[Tamper], None],
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
    lie: str,
) -> None:
    """`trailsweep sweep`: exit 1, the good pair's lines in the file, one summary line for
    the failed pair, no traceback."""
    use_emu(emu)
    make, needle = LIES[lie]
    lying(make())
    out = tmp_path / "out.ndjson"
    account = emu.emulator.world.management.id
    code, stdout, err = _main(
        capsysbinary,
        "sweep",
        "--accounts",
        account,
        "--regions",
        f"{GOOD},{BAD}",
        *WINDOW,
        "--page-size",
        str(PAGE),
        "--rate",
        "100",
        "--output",
        str(out),
    )
    assert code == 1, err
    assert stdout == b""
    assert "Traceback" not in err
    failures = [line for line in err.splitlines() if "failed " in line]
    assert len(failures) == 1, err
    assert f"failed {account}/{BAD}: InvalidResponse: " in failures[0]
    assert needle in failures[0]
    _check_lines(emu, out.read_bytes())


# --page-size: the paginated run; --max-results: one call, its raw page printed.
LOOKUP_CASES = [("--page-size", lie) for lie in COMMAND_LIES] + [
    ("--max-results", lie) for lie in ("more than MaxResults", "body {}", "record array")
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("size_flag", "lie"), LOOKUP_CASES)
def test_lookup_events_prints_one_line_and_exits_1(
    emu: EmulatorThread,
    use_emu: UseEmu,
    lying: Callable[[Tamper], None],
    capsysbinary: pytest.CaptureFixture[bytes],
    size_flag: str,
    lie: str,
) -> None:
    """`trailsweep lookup-events` on the lying region, paginated or a single call: the AWS
    CLI's error line for InvalidResponse, exit 1, no document, no traceback."""
    use_emu(emu)
    make, needle = LIES[lie]
    lying(make())
    code, out, err = _main(
        capsysbinary, "lookup-events", "--region", BAD, *WINDOW, size_flag, str(PAGE)
    )
    assert (code, out) == (1, b""), err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert (
        "An error occurred (InvalidResponse) when calling the LookupEvents operation: " in lines[0]
    )
    assert needle in lines[0]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("lean", [True, False], ids=["lean", "aioboto3"])
def test_an_endless_body_is_not_read_to_its_end(
    emu: EmulatorThread, lying: Callable[[Tamper], None], lean: bool
) -> None:
    """The client hangs up soon after the 16 MiB cap: the server cannot write the rest
    (socket buffers take a few MiB more at most)."""
    sent: list[int] = []
    lying(endless_body(sent))
    _, report = _sweep(_config(emu), lean=lean)
    assert len(report.failed) == 1
    assert "over 16,777,216 bytes" in (report.failed[0].error or "")
    # The server's handler notices the hang-up on its next write, in the emulator's thread:
    # wait for it (a deadline, not a sleep; CI saw the assert win the race once).
    deadline = time.monotonic() + 20
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent, "the tamper did not finish"
    assert max(sent) < 32, sent


@pytest.mark.timeout(10)  # today: a spin, stopped by the timeout
def test_the_merge_refuses_a_batch_out_of_order() -> None:
    """merge_chunks given a page out of key order (what a lying server sends, were it not
    refused before) raises instead of spinning forever."""

    async def pages(batch: list[int]) -> AsyncIterator[list[int]]:
        yield batch

    async def go() -> list[list[int]]:
        merged = merge_chunks([pages([9, 8, 1]), pages([5, 6])], key=lambda item: item)
        return [chunk async for chunk in merged]

    with pytest.raises(ValueError, match="not in key order"):
        anyio.run(go)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("slices", [False, True], ids=["by token", "by time"])
def test_a_resume_mid_page_is_not_taken_for_disorder(emu: EmulatorThread, slices: bool) -> None:
    """An honest resume from a cursor in the middle of a page: asked again by token, the page
    re-serves written events newer than the cursor's oldest second; they are skipped, not
    refused as out of order, and the rest comes out exactly."""
    cfg = dataclasses.replace(_config(emu), slices=slices, regions=[BAD])
    report = SweepReport()

    async def first() -> list[SweepEvent]:
        async with aclosing(sweep(cfg, report=report)) as events:
            return [e async for e in events]

    everything = anyio.run(first)
    assert report.failed == []
    # Cut after the first event, past the first page, whose page holds a newer event
    # before it.
    cut = next(
        k + 1
        for k, event in enumerate(everything)
        if k >= PAGE
        and event.index >= 1
        and everything[k - event.index].page is event.page
        and everything[k - event.index].key[0] < event.key[0]
    )
    cursor = Cursor()
    for event in everything[:cut]:
        cursor.advance(event)
    account = emu.emulator.world.management.id
    resumed = SweepReport()

    async def rest() -> list[bytes]:
        pairs = [PairState(account, BAD, cursor=cursor)]
        async with aclosing(sweep(cfg, report=resumed, pairs=pairs)) as events:
            return [e.line() async for e in events]

    assert anyio.run(rest) == [e.line() for e in everything[cut:]]
    assert resumed.failed == []
