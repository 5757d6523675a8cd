"""`lookup_events`: one account and region, what `aws cloudtrail lookup-events` returns,
as an async iterator of events.

It asks as the caller, in the caller's own account (the AWS CLI's way: no role is
assumed), in one region. The settings name that region (`region`, or `regions` holding
one); what they say of other accounts or more regions is refused rather than dropped, so
that nothing a program asks for is silently ignored.

Decision: it is the sweep of that one pair (engine.sweep.sweep_chunks, through
`stream.batches`), not engine.single_pair.run_lookup, which writes the AWS CLI's document:
the same events, with every setting the sweep honours (rate, timeouts, raw, time slices),
the account named by STS as in a sweep's events, and no second wiring of sessions and
clients to keep in step. What differs from the sweep is failure: with one pair there is
no other to go on with, so its failure is raised (PairFailed) after the events that came
before it.

`trailsweep lookup-events` prints the AWS CLI's own document instead, byte for byte as
`aws cloudtrail lookup-events` does: `run_lookup` writes it for a `Lookup`, and
`resolve_output` and `render` turn it into the other formats (FORMATS), --query and ISO
timestamps; they are named here so that the CLI reaches them through this layer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator

from trailsweep.api.stream import batches, unwrapped
from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.base.errors import InputError, PairFailed
from trailsweep.engine.pair import SweepEvent
from trailsweep.engine.single_pair import Lookup, PrintedPage, run_lookup
from trailsweep.engine.sweep import SweepReport
from trailsweep.output.formats import FORMATS, OutputSpec, render, resolve_output
from trailsweep.settings.config import SweepSettings

__all__ = [
    "FORMATS",
    "Lookup",
    "OutputSpec",
    "PrintedPage",
    "lookup_events",
    "render",
    "resolve_output",
    "run_lookup",
]


async def lookup_events(
    settings: SweepSettings, *, clock: Clock = SYSTEM_CLOCK
) -> AsyncGenerator[SweepEvent, None]:
    """The events of one account and region, newest first, as `aws cloudtrail
    lookup-events` pages them::

        settings = trailsweep.SweepSettings.build(region="eu-west-1", start_time="1h",
                                                  lookup_attributes=["EventName=ConsoleLogin"])
        async with contextlib.aclosing(trailsweep.lookup_events(settings)) as events:
            async for event in events:
                print(event.time, event.name, event.record["sourceIPAddress"])

    The caller's own account (credentials as `profile`, the environment, or the explicit
    keys say), in `region` (or the one region of `regions`; default: the session's). An
    API error ends it with PairFailed, after the events that came before it."""
    report = SweepReport()
    async with batches(_one_pair(settings), report, clock) as chunks:
        while True:
            with unwrapped():
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
            for event in chunk:
                event.pair.cursor.advance(event)
                yield event
    for pair in report.failed:
        code, _, reason = (pair.error or "Unknown: failed").partition(": ")
        raise PairFailed(pair.account, pair.region, code, reason)


def _one_pair(settings: SweepSettings) -> SweepSettings:
    if settings.accounts is not None:
        raise InputError(
            "lookup_events asks in the caller's own account; leave accounts unset, or sweep "
            "several accounts with open_sweep"
        )
    regions = settings.regions
    if regions == "all" or (regions is not None and len(regions) > 1):
        raise InputError(
            "lookup_events asks in one region; give one in region (or regions), or sweep "
            "several with open_sweep"
        )
    if regions is None and settings.region is not None:
        return dataclasses.replace(settings, regions=[settings.region])
    return settings
