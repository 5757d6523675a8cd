"""One pair's pages when its question needs several NextToken chains.

Several values of the attribute sent to the API (`--lookup-attributes` OR across values of
one key) make one chain per value. The chains run ahead concurrently under the pair's one
limiter (docs/design.md invariant 2), are merged newest first (ties: by chain, then API order),
and an event found by two chains (two matching resources, say) is written once: the
duplicate has the same EventTime, so remembering the EventIds of the current second is
enough.

A resume starts every chain at the pair cursor's oldest written second, skipping the
EventIds already written at it: everything newer is written, because the merge is ordered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack

from anyio.abc import TaskGroup

from trailsweep.engine.merge import merge_sorted, prefetched
from trailsweep.engine.pager import Pager
from trailsweep.engine.pair import ChainSpec, PairContext, SweepEvent, event_key
from trailsweep.engine.slices import SlicedPager
from trailsweep.engine.spool import Spool


def pair_source(
    ctx: PairContext,
    *,
    depth: int,
    task_group: TaskGroup,
    sliced: bool = False,
    spool: Spool | None = None,
) -> AsyncIterator[Sequence[SweepEvent]]:
    """The pages of one pair: its one Pager; with `sliced`, a `SlicedPager` (time slices
    when the latency needs them; it holds up to `depth` pages ahead itself, those past the
    sweep's memory budget in `spool`); or, for
    several values of the attribute sent to the API, those chains merged (`pair_pages`),
    each with a share of `depth`."""
    chains = len(ctx.query.plan.chains)
    if chains == 1 and sliced:
        sliced_pager = SlicedPager(ctx, depth=depth, task_group=task_group, spool=spool)
        sliced_pager.begin()
        return sliced_pager.pages()
    if chains == 1:
        return Pager(ctx).pages()
    pagers = [Pager(ctx, ChainSpec(index=i, track=False, by_time=True)) for i in range(chains)]
    return pair_pages(pagers, max(1, depth // chains), task_group, ctx.query.page_size)


async def pair_pages(
    pagers: Sequence[Pager], depth: int, task_group: TaskGroup, batch: int = 50
) -> AsyncIterator[list[SweepEvent]]:
    """The merged, de-duplicated events of `pagers` (one pair), in lists of up to `batch`."""
    pair = pagers[0].pair
    cur = pair.cursor
    pair.begin_run(pagers[0].pace.rate)
    second: int | None = cur.oldest
    seen: set[str] = set(cur.ids)
    out: list[SweepEvent] = []
    async with AsyncExitStack() as stack:
        sources = [
            await stack.enter_async_context(prefetched(p.pages(), depth, task_group))
            for p in pagers
        ]
        async for event in merge_sorted(sources, key=event_key):
            if pair.failed:
                # A chain failed: what follows could skip the events it did not fetch.
                # Stop here, so the pair's written events stay a newest-first prefix.
                break
            when = -event.key[0]
            if when != second:
                second, seen = when, set()
            event_id = str(event.event.get("EventId", ""))
            if event_id in seen:
                continue
            seen.add(event_id)
            out.append(event)
            if len(out) >= batch:
                pair.events += len(out)
                yield out
                out = []
    if out:
        pair.events += len(out)
        yield out
    pair.end_run()
