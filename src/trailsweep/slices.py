"""Time-sliced pagers: several NextToken chains per pair, so a slow API still gets the
whole quota.

A chain waits for each page before it can ask for the next (the NextToken is in it), so
one chain makes at most 1/latency calls per second: at 1 s a page, half the 2 calls/s a
pair is allowed. `SlicedPager` keeps about ``1 + latency * rate`` chains busy per pair
(at most `max_chains`), each on its own time slice of the pair's window, all under the
pair's one limiter (DESIGN.md invariant 2):

- The first chain starts on the whole window. Once a call's latency says one chain cannot
  use the quota, the window still ahead of it is cut: the running chain keeps a short
  slice (it stops at the cut, so no call is spent on events another chain will fetch),
  and the rest becomes the remainder, from which later slices are carved one at a time,
  newest first, each as the next free chain needs one.
- A slice is sized to hold about `pages_per_slice` pages, from the density of events seen
  so far (events served per second of window covered). A slice that comes back empty
  makes the density lower and the next slice wider, so idle days cost a call or two,
  not one per slice.
- Output is the slices concatenated newest first, each in API order: the same events in
  the same order as one chain (slices end one second before the next one starts). Only
  the slice at the head of the output is written; the others wait in memory, at most
  about `depth` pages over the pair (the head's chain, with nothing queued, is never held
  back), which is why slices are short: about ``(chains - 1) * pages_per_slice`` pages
  wait while the head finishes.
- A checkpoint needs no slice state: the pair's written events are a prefix in time
  order, so a resume starts one chain at the oldest written second (skipping the EventIds
  written at it) and slices again from there.
- A failed slice fails the pair: its pages so far are written, nothing after them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup

from trailsweep.adaptive import AdaptiveRate
from trailsweep.clock import Clock
from trailsweep.limiter import RateLimiter
from trailsweep.pager import Pager
from trailsweep.pair import Cursor, PairState, SweepEvent
from trailsweep.query import Query
from trailsweep.retry import RetryBudget
from trailsweep.timeparse import to_epoch

MAX_CHAINS = 4


@dataclass(eq=False, slots=True)
class _Slice:
    lo: int
    hi: int
    pager: Pager
    pages: deque[list[SweepEvent]] = field(default_factory=deque)
    done: bool = False


class SlicedPager:
    """The pages of one pair, newest first, fetched by as many chains as its latency needs."""

    def __init__(
        self,
        pair: PairState,
        client: Any,
        limiter: RateLimiter,
        query: Query,
        *,
        clock: Clock,
        refresh: Callable[[], Awaitable[None]] | None,
        depth: int,
        task_group: TaskGroup,
        max_chains: int = MAX_CHAINS,
        pages_per_slice: int | None = None,
    ) -> None:
        self.pair = pair
        self.client = client
        self.limiter = limiter
        self.query = query
        self.clock = clock
        self.refresh = refresh
        self.depth = max(0, depth)
        self.task_group = task_group
        self.max_chains = max(1, max_chains)
        self.pages_per_slice = pages_per_slice
        self.pace = AdaptiveRate(limiter)
        self.budget = RetryBudget()
        self.start = to_epoch(query.start)
        self.slices: deque[_Slice] = deque()  # newest first; [0] is being written
        self.remainder: int | None = None  # [start, remainder] is not in any slice yet
        self.open: _Slice | None = None  # the first slice, until it is cut
        self.held = 0  # pages fetched and not yet written, over every slice
        self.running = 0
        self.closed = False
        self.finished_events = 0  # served by chains that ended
        self.finished_seconds = 0  # seconds of window they covered
        self.scopes: list[anyio.CancelScope] = []
        self._changed = anyio.Event()
        self.chains_started = 0

    # coordination ---------------------------------------------------------------------
    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _target(self) -> int:
        """Chains needed to use the pace: one per call in flight at this latency, plus one."""
        return min(self.max_chains, 1 + int(self.pair.latency * self.pace.rate))

    def _slice_events(self, chains: int) -> int:
        pages = self.pages_per_slice or max(1, self.depth // max(1, chains - 1))
        return pages * self.query.page_size

    def _density(self) -> float | None:
        """Events served per second of window, over every chain so far (None: no data)."""
        events, seconds = self.finished_events, self.finished_seconds
        for sl in self.slices:
            if sl.pager.floor is not None and not sl.done:
                events += sl.pager.served
                seconds += sl.hi - sl.pager.floor + 1
        return events / seconds if seconds > 0 else None

    def _width(self, chains: int) -> int | None:
        density = self._density()
        if density is None:
            return None
        if density <= 0:
            return 1 << 40  # nothing seen anywhere yet: take everything
        return max(1, int(self._slice_events(chains) / density))

    # planning ---------------------------------------------------------------------------
    def _room(self) -> bool:
        """Whether a page may wait behind the head: `depth` pages per pair at most."""
        return self.held < self.depth

    def _plan(self) -> None:
        """Start chains while more are needed, there is room, and window is left; always
        one when none runs (a remainder is never left behind)."""
        if self.pair.failed or self.closed:
            return
        target = self._target()
        if target >= 2 and self.remainder is None and self.open is not None:
            self._cut_open(target)
        while self.remainder is not None and (
            self.running == 0 or (self.running < target and self._room())
        ):
            width = self._width(target) if target >= 2 else None
            if width is None:
                if self.running:
                    return
                width = 1 << 40  # the only chain: the whole remainder
            hi = self.remainder
            lo = max(self.start, hi - width + 1)
            if lo - self.start < width // 2:  # a sliver would be left: take it too
                lo = self.start
            self.remainder = lo - 1 if lo > self.start else None
            self._launch(lo, hi, Cursor())

    def _cut_open(self, target: int) -> None:
        """Cut the first slice short, once it has seen a page: the rest becomes remainder."""
        sl = self.open
        assert sl is not None
        floor, width = sl.pager.floor, self._width(target)
        if sl.done or floor is None or width is None:
            return
        lo = floor - width + 1
        if lo <= self.start + 1:
            self.open = None  # it will finish soon enough on its own
            return
        sl.lo = lo
        sl.pager.cut = lo
        self.remainder = lo - 1
        self.open = None

    def _launch(self, lo: int, hi: int, start: Cursor) -> _Slice:
        pager = Pager(
            self.pair, self.client, self.limiter, self.query, clock=self.clock,
            refresh=self.refresh, pace=self.pace, budget=self.budget, track=False,
            start=start, window=(lo, hi),
        )  # fmt: skip
        pager.seq_base = self.chains_started << 40  # unique keys over the pair's slices
        self.chains_started += 1
        sl = _Slice(lo, hi, pager)
        self.slices.append(sl)
        self.running += 1
        scope = anyio.CancelScope()
        self.scopes.append(scope)
        self.task_group.start_soon(self._run, sl, scope)
        return sl

    async def _run(self, sl: _Slice, scope: anyio.CancelScope) -> None:
        with scope:
            try:
                async for batch in sl.pager.pages():
                    while True:  # wait for room; the head, with nothing queued, never waits
                        changed = self._changed
                        head = not self.slices or sl is self.slices[0]
                        if self.held <= self.depth or (head and not sl.pages):
                            break
                        await changed.wait()
                    sl.pages.append(batch)
                    self.held += 1
                    self._notify()
                    self._plan()
            finally:
                sl.done = True
                self.running -= 1
                self.finished_events += sl.pager.served
                self.finished_seconds += sl.hi - sl.lo + 1
                self._notify()
        self._plan()

    # output -----------------------------------------------------------------------------
    async def pages(self) -> AsyncIterator[list[SweepEvent]]:
        """The pair's pages in order; from the pair cursor's oldest written second on."""
        pair, cur = self.pair, self.pair.cursor
        pair.events = cur.written
        pair.state = "running"
        pair.rate = self.pace.rate
        hi = to_epoch(self.query.end) if cur.oldest is None else cur.oldest
        first = Cursor(oldest=cur.oldest, ids=list(cur.ids))
        self.open = self._launch(self.start, hi, first)
        self.open.pager.by_time = cur.oldest is not None
        try:
            while self.slices or self.remainder is not None:
                if not self.slices:
                    self._plan()  # launches one unless the pair failed
                    if not self.slices:
                        break
                    continue
                changed = self._changed
                head = self.slices[0]
                if head.pages:
                    batch = head.pages.popleft()
                    self.held -= 1
                    self._notify()
                    pair.events += len(batch)
                    yield batch
                    continue
                if head.done:
                    if pair.failed:
                        break  # nothing after a failed slice: the written part stays a prefix
                    self.slices.popleft()
                    self._plan()
                    continue
                await changed.wait()
        finally:
            self.closed = True
            for scope in self.scopes:
                scope.cancel()
        if not pair.failed:
            pair.state = "done"
