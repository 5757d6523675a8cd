"""`open_sweep`: a sweep as an async iterator of events, with its live report.

The engine yields events in lists (engine.sweep.sweep_chunks); a program wants them one
at a time, counted as it gets them. `SweepStream` hands them over one by one and advances
each event's pair cursor as it does, so `report.events` (and each pair's count) is what
the program was given, as it is for the NDJSON a sink writes.

Errors come out as the error tree's own classes (`trailsweep.CredentialsError`, ...):
the engine's task groups wrap what their tasks raise in exception groups, and `unwrapped`
takes the first TrailsweepError back out, as the CLI does before printing it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import aclosing, asynccontextmanager, contextmanager

from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.base.errors import InputError, TrailsweepError
from trailsweep.engine.pair import SweepEvent
from trailsweep.engine.sweep import SweepReport, sweep_chunks
from trailsweep.settings.config import SweepSettings


class SweepStream:
    """The events of a running sweep, one at a time, and its report::

        async with trailsweep.open_sweep(settings) as events:  # a SweepStream
            async for event in events:
                print(event.account, event.region, event.name)
                print(events.report.events)      # live: how many were handed over
            print(events.report.as_dict())       # final: pairs, events, calls, failures

    Each event counts in `report` as it is handed over: `report.events` is always the
    number of events this stream has yielded."""

    __slots__ = ("_chunk", "_chunks", "_next", "report")

    def __init__(self, chunks: AsyncIterator[Sequence[SweepEvent]], report: SweepReport) -> None:
        self._chunks = chunks
        self._chunk: Sequence[SweepEvent] = ()
        self._next = 0
        self.report = report

    def __aiter__(self) -> SweepStream:
        return self

    async def __anext__(self) -> SweepEvent:
        while self._next == len(self._chunk):
            with unwrapped():
                self._chunk = await anext(self._chunks)  # StopAsyncIteration ends us too
            self._next = 0
        event = self._chunk[self._next]
        self._next += 1
        event.pair.cursor.advance(event)
        return event


@asynccontextmanager
async def open_sweep(
    settings: SweepSettings, *, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[SweepStream]:
    """Run a sweep; yields its events, newest first across every account and region::

        settings = trailsweep.SweepSettings.build(accounts="org", regions="all",
                                                  start_time="1d")
        async with trailsweep.open_sweep(settings) as events:
            async for event in events:
                print(event.time, event.account, event.region, event.name)
        print(events.report.exit_code)

    Every setting counts: with `unordered` events come as they arrive (newest first only
    within each account and region); `raw` is what `event.ndjson()` writes; `max_items`
    ends the stream. `output` and `file_mode` are `export`'s. Leaving the block early
    stops the sweep: no more calls are made. A failing pair does not stop the others; it
    is listed in `report.failed` (docs/design.md invariant 7)."""
    refuse_runs(settings, "open_sweep")
    report = SweepReport()
    async with batches(settings, report, clock) as chunks:
        yield SweepStream(chunks, report)


@asynccontextmanager
async def batches(
    settings: SweepSettings, report: SweepReport, clock: Clock
) -> AsyncIterator[AsyncIterator[Sequence[SweepEvent]]]:
    """The sweep's events in lists (uncounted: whoever hands them on advances their
    cursors; and asks for each list `with unwrapped()`); `report.finished` set however
    it ends."""
    chunks = sweep_chunks(settings, report=report, clock=clock)
    try:
        async with aclosing(chunks):
            yield chunks
    finally:
        if report.finished is None:
            report.finished = time.monotonic()


@contextmanager
def unwrapped() -> Iterator[None]:
    """Re-raise the first TrailsweepError of an exception group as itself (a task group
    wraps what its tasks raise); any other group goes on as it is."""
    try:
        yield
    except BaseExceptionGroup as group:
        ours = group.subgroup(lambda e: isinstance(e, TrailsweepError))
        if ours is None:
            raise
        first: BaseException = ours
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from group


def refuse_runs(settings: SweepSettings, who: str) -> None:
    """InputError when `settings` ask for what only a run that writes does: an
    incremental run (`state`: export, export_parts) or following (the CLI's --follow)."""
    if settings.state is not None or settings.follow:
        raise InputError(
            f"{who}: state and follow are for runs that write (export, export_parts, the "
            "CLI's sweep --state/--follow); build the settings without them"
        )
    if settings.workers != 1:
        # What a worker process sends back is each event's NDJSON line (engine/frames.py),
        # not the LookupEvents event a stream hands on (record, name, to_dict).
        raise InputError(
            f"{who}: workers are for runs that write (export, export_parts, the CLI's "
            "sweep --workers); a stream runs in this process: leave workers at 1"
        )
