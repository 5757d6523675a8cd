"""One pair's pages when its question needs several NextToken chains.

Several values of the attribute sent to the API (`--lookup-attributes` OR across values of
one key) make one chain per value. The chains run ahead concurrently under the pair's one
limiter (DESIGN.md invariant 2), are merged newest first (ties: by chain, then API order),
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

from trailsweep.merge import merge_sorted, prefetched
from trailsweep.pager import Pager
from trailsweep.pair import SweepEvent


def _key(event: SweepEvent) -> tuple[int, str, str, int]:
    return event.key


async def pair_pages(
    pagers: Sequence[Pager], depth: int, task_group: TaskGroup, batch: int = 50
) -> AsyncIterator[list[SweepEvent]]:
    """The merged, de-duplicated events of `pagers` (one pair), in lists of up to `batch`."""
    pair = pagers[0].pair
    cur = pair.cursor
    pair.events = cur.written
    pair.state = "running"
    pair.rate = pagers[0].pace.rate
    second: int | None = cur.oldest
    seen: set[str] = set(cur.ids)
    out: list[SweepEvent] = []
    async with AsyncExitStack() as stack:
        sources = [
            await stack.enter_async_context(prefetched(p.pages(), depth, task_group))
            for p in pagers
        ]
        async for event in merge_sorted(sources, key=_key):
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
    if not pair.failed:
        pair.state = "done"
