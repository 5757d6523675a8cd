"""`lookup_events`: one account and region, the `aws cloudtrail lookup-events` call, as an
async iterator of events (engine.lookup.lookup_stream).

It asks as the caller, in the caller's own account (the AWS CLI's way: no role is
assumed), in one region. The settings name that region (`region`, or `regions` holding
one); what they say of other accounts or more regions is refused rather than dropped, so
that nothing a program asks for is silently ignored. Decision: the account is named by
one STS GetCallerIdentity call (which the AWS CLI does not make), so that each event
carries it, as a sweep's do.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from trailsweep.api.stream import unwrapped
from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.base.errors import InputError
from trailsweep.engine.lookup import Lookup, lookup_stream
from trailsweep.engine.pair import SweepEvent
from trailsweep.settings.config import SweepSettings


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
    lookup = _lookup(settings)
    async with aclosing(lookup_stream(lookup, raw=settings.raw, clock=clock)) as events:
        while True:
            with unwrapped():
                try:
                    event = await anext(events)
                except StopAsyncIteration:
                    return
            yield event


def _lookup(settings: SweepSettings) -> Lookup:
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
    region = regions[0] if regions else settings.region
    return Lookup(
        query=settings.query, region=region, profile=settings.profile,
        endpoint_url=settings.endpoint_url, access_key_id=settings.access_key_id,
        secret_access_key=settings.secret_access_key, rate=settings.rate,
        timeouts=settings.timeouts,
    )  # fmt: skip
