"""Time-sliced pagers: several NextToken chains per pair, so a slow API still gets the
whole quota.

A chain waits for each page before it can ask for the next (the NextToken is in it), so
one chain makes at most 1/latency calls per second: at 1 s a page, half the 2 calls/s a
pair is allowed. `SlicedPager` keeps about ``1 + latency * rate`` chains busy per pair
(at most `max_chains`), each on its own time slice of the pair's window, all under the
pair's one limiter (docs/design.md invariant 2):

- The first chain starts on the whole window. Whenever the pair has fewer chains than
  its latency needs, the running slice with the most window left ahead of its chain is
  split: its chain keeps a short stretch below where it is (a few pages' worth at the
  density seen, at most half of what it has left; it stops at the cut, so no call is
  spent on events another chain fetches) and a new chain takes the rest. Splitting what
  is left, rather than planning slices up front, needs no guess of where the events are:
  busy hours get split again, quiet ones are finished by the chain already on them.
- The first page can take a whole latency to tell the density. If it is still out when
  the pair's next call is due (an interval after the first), the latency is at least that
  long: the window is halved by time then, blind, so the second chain's call goes at that
  slot instead of a latency later (`_first_guess`; the first second of a 1 s pair).
  Only on a window of `MIN_BLIND_SPLIT_SECONDS` or more: a follower's short polls of idle
  pairs would pay a call each for it.
- Each split costs about one call (both halves end on a partial page, or the new one is
  empty). So a slice is split on the chance its older half holds events only until one
  split comes back short of a page; from then on, only while the density of events seen
  (overall, or in the last page next to the cut) says that half holds `MIN_SPLIT_PAGES`
  pages. Small remainders are left to the chain that has them. (Counting only empty splits
  let the tail of a busy pair split on the chance again and again, for slices of 2 to 20
  events: 60 calls for 54 pages, against 57 now, benchmarks/latency.py.)
- Output is the slices concatenated newest first, each in API order: the same events in
  the same order as one chain (slices end one second before the next one starts). Only
  the slice at the head of the output is written; the others wait in memory, at most
  about `depth` pages over the pair (the head's chain, with nothing queued, is never held
  back). A full budget stops both the waiting chains and new splits, so at worst the pair
  falls back to its head chain alone; since the largest remaining span is split first,
  the new half sits right behind the slice it came from and waits least.
- A checkpoint needs no slice state: the pair's written events are a prefix in time
  order, so a resume starts one chain at the oldest written second (skipping the EventIds
  written at it) and slices again from there.
- A failed slice fails the pair: its pages so far are written, nothing after them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
from anyio.abc import TaskGroup

from trailsweep.engine.pager import Pager
from trailsweep.engine.pair import ChainSpec, Cursor, PairContext, SweepEvent
from trailsweep.engine.spool import Batch, Spool, Spooled
from trailsweep.settings.timeparse import to_epoch

MAX_CHAINS = 4
MIN_SPLIT_PAGES = 2
MIN_SPLIT_SECONDS = 120
# A blind split (`_first_guess`) bets that the window holds more than a page. Not on a
# short one: a follower's poll (its look-back and interval, tens of minutes) of an idle
# pair is the common case where it does not, and would cost 2 calls a poll instead of 1.
MIN_BLIND_SPLIT_SECONDS = 6 * 3600


@dataclass(eq=False, slots=True)
class _Slice:
    lo: int
    hi: int
    pager: Pager
    pages: deque[Batch | Spooled] = field(default_factory=deque)
    done: bool = False
    split: bool = False  # made by splitting another slice


def _blind_worth(sl: _Slice) -> bool:
    """Whether `sl` spans enough window for a blind split (`MIN_BLIND_SPLIT_SECONDS`)."""
    return sl.hi - sl.lo >= MIN_BLIND_SPLIT_SECONDS


class SlicedPager:
    """The pages of one pair, newest first, fetched by as many chains as its latency needs."""

    def __init__(
        self,
        ctx: PairContext,
        *,
        depth: int,
        task_group: TaskGroup,
        max_chains: int = MAX_CHAINS,
        spool: Spool | None = None,
    ) -> None:
        self.ctx = ctx
        self.pair = ctx.pair
        self.query = ctx.query
        self.depth = max(0, depth)
        self.task_group = task_group
        self.max_chains = max(1, max_chains)
        self.pace = ctx.pace
        self.start = to_epoch(ctx.query.start)
        self.slices: list[_Slice] = []  # newest first; [0] is being written
        self.held = 0  # pages fetched and not yet written, over every slice
        self.running = 0
        self.closed = False
        self.finished_events = 0  # served by chains that ended
        self.finished_seconds = 0  # seconds of window they covered
        self.scopes: list[anyio.CancelScope] = []
        self._changed = anyio.Event()
        self.chains_started = 0
        self.begun = False
        self.short_splits = 0  # split-off slices that did not fill one page
        self.spool = spool  # where waiting pages go past the sweep's in-memory budget
        self.wanting = False  # the reader waits for the head slice's next page
        self.first_wait = 0.0  # how long the first page has been out, when it is late

    # coordination ---------------------------------------------------------------------
    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _target(self) -> int:
        """Chains needed to use the pace: one per call in flight at this latency, plus one."""
        latency = max(self.pair.latency, self.first_wait)
        return min(self.max_chains, 1 + int(latency * self.pace.rate))

    def _density(self) -> float | None:
        """Events served per second of window, over every chain so far (None: no data)."""
        events, seconds = self.finished_events, self.finished_seconds
        for sl in self.slices:
            if sl.pager.floor is not None and not sl.done:
                events += sl.pager.served
                seconds += sl.hi - sl.pager.floor + 1
        return events / seconds if seconds > 0 else None

    # planning ---------------------------------------------------------------------------
    def _room(self) -> bool:
        """Whether a page may wait behind the head: `depth` pages per pair at most."""
        return self.held < self.depth

    def _plan(self) -> None:
        """Split running slices while the pair has fewer chains than it needs, pages have
        room to wait, and some slice has enough window left to be worth a call."""
        if self.pair.failed or self.closed:
            return
        target = self._target()
        while self.running < target and self._room():
            density = self._density()
            if density is None:
                self._blind_split()
                return
            best: tuple[int, int] | None = None  # (span left, index)
            for i, sl in enumerate(self.slices):
                floor = sl.pager.floor
                if sl.done or floor is None or floor - sl.lo < 2:
                    continue
                if best is None or floor - sl.lo > best[0]:
                    best = (floor - sl.lo, i)
            if best is None:
                return
            span, i = best
            # The older half is likely as busy as the last page seen next to it, or as
            # the pair overall, whichever is busier: data is uneven (nights, idle days).
            # Until a split has come back empty, split on the chance (calls the pair has
            # no chain for would be lost anyway); after that, only on the evidence.
            guess = max(density, self.slices[i].pager.recent)
            likely = span / 2 * guess >= MIN_SPLIT_PAGES * self.query.page_size
            if not likely and (self.short_splits or span < MIN_SPLIT_SECONDS):
                return
            # The chain keeps about `_keep_pages` pages' worth (at most half of what it
            # has left) and hands the rest on: the pages of the new chain wait only for
            # that short stretch, so the read-ahead budget is not filled by one slice
            # waiting behind a long one.
            keep = int(self._keep_pages(target) * self.query.page_size / guess) if guess else 0
            self._split(i, keep)

    def _blind_split(self) -> None:
        """Before any page has answered (`_first_guess` found the first one late): halve
        the first slice's window by time. Nothing is known of where its events are; the
        splits that follow, on the density seen, even the load out."""
        if len(self.slices) != 1:
            return
        sl = self.slices[0]
        if sl.done or sl.pager.floor is not None or not _blind_worth(sl):
            return
        self._split(0, (sl.hi - sl.lo + 1) // 2)

    async def _first_guess(self, first: _Slice, scope: anyio.CancelScope) -> None:
        """An interval after the first call, when the pair's next call is due: if the
        first page is still out, the latency is at least that long, and a chain waiting
        for it leaves the quota unused. Split then, rather than a whole latency later,
        when the page would tell the density (the first second of a 1 s pair)."""
        with scope:
            started = self.ctx.clock.monotonic()
            await self.ctx.clock.sleep(1 / max(self.pace.rate, 1e-3))
            if first.pager.floor is None and not first.done and not self.closed:
                self.first_wait = self.ctx.clock.monotonic() - started
                self._plan()

    def _keep_pages(self, target: int) -> int:
        """Pages a split chain keeps: the pair's budget shared by the chains it needs."""
        return max(MIN_SPLIT_PAGES, self.depth // max(1, target))

    def _split(self, i: int, keep: int) -> None:
        """Cut slice `i` `keep` seconds below where its chain is (at most half of what it
        has left) and give the older part to a new chain, right after it."""
        sl = self.slices[i]
        floor = sl.hi + 1 if sl.pager.floor is None else sl.pager.floor
        cut = max(sl.lo + (floor - sl.lo + 1) // 2, floor - keep + 1)
        older = _Slice(sl.lo, cut - 1, self._pager(sl.lo, cut - 1, Cursor()), split=True)
        sl.lo = sl.pager.cut = cut
        self.slices.insert(i + 1, older)
        self._start(older)

    def _pager(self, lo: int, hi: int, start: Cursor, *, by_time: bool = False) -> Pager:
        """A chain over [lo, hi] from `start`, under the pair's limiter, pace and budget."""
        spec = ChainSpec(
            start=start, by_time=by_time, window=(lo, hi),
            seq_base=self.chains_started << 40,  # unique keys over the pair's slices
            track=False, keep_raw=self.spool is not None,
        )  # fmt: skip
        self.chains_started += 1
        return Pager(self.ctx, spec)

    def _start(self, sl: _Slice) -> None:
        self.running += 1
        scope = anyio.CancelScope()
        self.scopes.append(scope)
        self.task_group.start_soon(self._run, sl, scope)

    async def _run(self, sl: _Slice, scope: anyio.CancelScope) -> None:
        with scope:
            try:
                async for batch in sl.pager.pages():
                    item = self._stow(sl, batch)
                    del batch  # a spooled page's events go now, not when the next one comes
                    while True:  # wait for room; the head, with nothing queued, never waits
                        changed = self._changed
                        head = not self.slices or sl is self.slices[0]
                        if self.held <= self.depth or (head and not sl.pages):
                            break
                        await changed.wait()
                    sl.pages.append(item)
                    self.held += 1
                    self._notify()
                    self._plan()
            finally:
                sl.done = True
                self.running -= 1
                if sl.split and sl.pager.served < self.query.page_size:
                    self.short_splits += 1
                self.finished_events += sl.pager.served
                self.finished_seconds += sl.hi - sl.lo + 1
                self._notify()
        self._plan()

    def _stow(self, sl: _Slice, batch: Batch) -> Batch | Spooled:
        """How a fetched page waits: parsed in memory while the sweep's budget allows (or
        when the reader is waiting for this very page), else spooled to disk. Every page
        kept parsed is counted in the spool's `in_memory` until it is read."""
        spool = self.spool
        if spool is None:
            return batch
        wanted = self.wanting and sl is self.slices[0] and not sl.pages
        if not wanted and spool.in_memory >= spool.budget:
            spooled = spool.put(batch)
            if spooled is not None:
                return spooled
        batch.raw = None  # parsed is how it waits: the body would double its memory
        spool.in_memory += 1
        return batch

    def _unstow(self, item: Batch | Spooled) -> Batch:
        if isinstance(item, Spooled):
            assert self.spool is not None
            return self.spool.take(item)
        if self.spool is not None:
            self.spool.in_memory -= 1
        return item

    # output -----------------------------------------------------------------------------
    def begin(self) -> None:
        """Start the first chain now, before anyone reads: the merge asks the pairs for
        their first pages one after the other, and a pair that only started then would
        make every pair wait for the latency of all the pairs before it."""
        if self.begun:
            return
        self.begun = True
        pair, cur = self.pair, self.pair.cursor
        pair.begin_run(self.pace.rate)
        hi = to_epoch(self.query.end) if cur.oldest is None else cur.oldest
        start = Cursor(oldest=cur.oldest, ids=list(cur.ids))
        first = _Slice(
            self.start, hi, self._pager(self.start, hi, start, by_time=cur.oldest is not None)
        )
        self.slices.append(first)
        self._start(first)
        # Only where a blind split may follow: its sleep is a timer for nothing otherwise,
        # and on a test's autojump clock (testing.ManualClock) a sleep moves time itself.
        if not self.pair.failed and _blind_worth(first):
            scope = anyio.CancelScope()
            self.scopes.append(scope)
            self.task_group.start_soon(self._first_guess, first, scope)

    async def pages(self) -> AsyncIterator[list[SweepEvent]]:
        """The pair's pages in order; from the pair cursor's oldest written second on."""
        self.begin()
        pair = self.pair
        try:
            while self.slices:
                changed = self._changed
                head = self.slices[0]
                if head.pages:
                    batch = self._unstow(head.pages.popleft())
                    self.held -= 1
                    self._notify()
                    pair.events += len(batch)
                    yield batch
                    continue
                if head.done:
                    if pair.failed:
                        break  # nothing after a failed slice: the written part stays a prefix
                    self.slices.pop(0)
                    # The next slice is the head now: its chain may be waiting for room
                    # with a page in hand (the head never waits), and nothing else would
                    # wake it (without this, 784 pairs hung with no calls; see
                    # test_a_finished_head_slice_wakes_the_chain_behind_it).
                    self._notify()
                    self._plan()
                    continue
                self.wanting = True
                try:
                    await changed.wait()
                finally:
                    self.wanting = False
        finally:
            self.closed = True
            for scope in self.scopes:
                scope.cancel()
            for sl in self.slices:  # pages nobody will read give their memory budget back
                while sl.pages:
                    item = sl.pages.popleft()
                    if isinstance(item, Spooled):
                        if self.spool is not None:
                            self.spool.drop(item)
                    elif self.spool is not None:
                        self.spool.in_memory -= 1
        pair.end_run()
