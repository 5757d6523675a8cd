"""Pages that wait behind the merge, kept on disk as the bytes LookupEvents sent.

A pair whose next pages arrive before the merge needs them holds them ready (read-ahead:
that is what keeps the ordered merge from stalling on page boundaries). Parsed, a 50-event
page is ~112 KB of Python objects; at 1,000 pairs, with the page being merged and the one
waiting for room, that was most of the client's memory (benchmarks/sweep.py). So the first
`budget` waiting pages over the whole sweep stay parsed in memory, and the others go to
one unlinked temporary file as their raw response body plus the few numbers needed to
rebuild their events (docs/design.md invariant 4: "paused, or spools to disk"). A spooled page
is parsed again when the merge reaches it (~0.75 us an event, paid only by spooled pages).

The file is cut in `CHUNK`-byte chunks; a page takes as many as it needs, anywhere, and
gives them back when read, so the file stays as large as the most pages ever waiting at
once, not as the sweep.
"""

from __future__ import annotations

import errno
import heapq
import logging
import os
import tempfile
from dataclasses import dataclass
from typing import IO, Any

import orjson

from trailsweep.engine.pair import PageRef, PairState, SweepEvent

_LOG = logging.getLogger("trailsweep")
CHUNK = 64 * 1024
SPOOL_BUDGET = 256  # waiting pages kept parsed in memory, over all pairs (~30 MB)
BUDGET_ENV = "TRAILSWEEP_SPOOL_PAGES"  # overrides SPOOL_BUDGET (tests, benchmarks)


def default_budget() -> int:
    return int(os.environ.get(BUDGET_ENV) or SPOOL_BUDGET)


class Batch(list[SweepEvent]):
    """A page's events as the merge takes them, with the response body they came from
    (None when it is not at hand); `seq` of the first event: each next one adds one."""

    __slots__ = ("raw",)

    def __init__(self, events: list[SweepEvent] | None = None, raw: bytes | None = None) -> None:
        super().__init__(events or ())
        self.raw = raw


@dataclass(slots=True, eq=False)
class Spooled:
    """A page on disk: where, how long, and which of its events are wanted, with the keys
    they had (`seq0` + position; the EventTime comes back with the body)."""

    chunks: tuple[int, ...]
    size: int
    pair: PairState
    ref: PageRef
    seq0: int
    indexes: list[int]


class Spool:
    """The spool file of one sweep, and the count of waiting pages kept in memory."""

    def __init__(self, budget: int | None = None, directory: str | None = None) -> None:
        self.budget = default_budget() if budget is None else budget
        self.in_memory = 0  # waiting pages kept parsed, over every pair
        self.directory = directory
        self._file: IO[bytes] | None = None
        self._free: list[int] = []  # free chunk numbers, lowest first
        self._chunks = 0  # chunks in the file
        self.spooled = 0  # pages written, for tests and benchmarks
        self.peak_chunks = 0
        self.failed: str | None = None  # why the spool file could not be written

    # disk -------------------------------------------------------------------------------
    def put(self, batch: Batch) -> Spooled | None:
        """`batch` written to disk, or None if its body is not at hand (it stays parsed)."""
        raw = batch.raw
        if raw is None or not batch or self.failed is not None:
            return None
        chunks: list[int] = []
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile(dir=self.directory)  # noqa: SIM115 - closed in close()
            fd = self._file.fileno()
            need = -(-len(raw) // CHUNK)
            view = memoryview(raw)
            for n in range(need):
                if self._free:
                    chunk = heapq.heappop(self._free)
                else:
                    chunk = self._chunks
                    self._chunks += 1
                chunks.append(chunk)
                part = view[n * CHUNK : (n + 1) * CHUNK]
                if os.pwrite(fd, part, chunk * CHUNK) != len(part):
                    raise OSError(errno.ENOSPC, "short write to the spool file")
        except OSError as err:
            # No room for the spool (TMPDIR full or read-only): the pages wait in memory
            # instead. Memory may then grow past the usual bound, but an export hours in is
            # not thrown away for want of temporary space; say so once on stderr.
            for chunk in chunks:
                heapq.heappush(self._free, chunk)
            self.failed = err.strerror or str(err)
            _LOG.warning(
                "cannot spool waiting pages to disk (%s); they wait in memory", self.failed
            )
            return None
        self.peak_chunks = max(self.peak_chunks, self._chunks - len(self._free))
        self.spooled += 1
        first = batch[0]
        return Spooled(
            tuple(chunks), len(raw), first.pair, first.page, first.key[3],
            [ev.index for ev in batch],
        )  # fmt: skip

    def take(self, page: Spooled) -> Batch:
        """The events of a spooled page, rebuilt as they were; its chunks are freed."""
        assert self._file is not None
        fd = self._file.fileno()
        parts = []
        left = page.size
        for chunk in page.chunks:
            n = min(CHUNK, left)
            part = os.pread(fd, n, chunk * CHUNK)
            if len(part) != n:
                raise OSError("short read from the spool file")
            parts.append(part)
            left -= n
            heapq.heappush(self._free, chunk)
        raw = b"".join(parts)
        events: list[dict[str, Any]] = orjson.loads(raw)["Events"]
        pair, ref, seq = page.pair, page.ref, page.seq0
        acct, region = pair.account, pair.region
        batch = Batch(raw=None)
        for i in page.indexes:
            e = events[i]
            batch.append(SweepEvent((-int(e["EventTime"]), acct, region, seq), pair, e, ref, i))
            seq += 1
        return batch

    def drop(self, page: Spooled) -> None:
        """Forget a spooled page nobody will read."""
        for chunk in page.chunks:
            heapq.heappush(self._free, chunk)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._free.clear()
        self._chunks = 0


# How many pages each pair may hold ready ahead of the merge, in memory or here on disk:
# SweepSettings.read_ahead (--read-ahead), or auto_read_ahead's share of one budget.
READ_AHEAD_BUDGET = 1600  # pages buffered over all pairs: at most ~180 MB of parsed events
READ_AHEAD_MAX = 40


SPOOLED_BUDGET = 10_000  # pages waiting over all pairs when they can wait on disk (~770 MB)
SPOOLED_MAX = 100
SPOOLED_MIN = 4


def auto_read_ahead(pairs: int, *, spooled: bool = False) -> int:
    """Read-ahead per pair within the memory budget.

    The ordered merge stalls whenever the pair whose page boundary comes next has nothing
    ready. 100 pairs at 2 calls/s, 15 pages each (benchmarks/sweep.py): 4 pages of
    read-ahead used 45% of the quota (2.05x the ideal wall time), 8 used 94% (1.28x), 12
    used 99% (1.08x, the same as --unordered). But a parsed 50-event page is ~112 KB and
    every pair also holds the page being merged and the one in flight: at 1,000 pairs, 4
    pages each meant 600 MB. So: up to READ_AHEAD_MAX while the budget allows, then fewer.
    Time slices (slices.py) share this budget: a pair whose pages take 1 s needs room for
    the slices behind its head, and the merge can hold a pair back while others catch up.
    8 pairs, 1 s pages, ~30 pages each: 12 pages of room used 62% of the quota on the
    busiest pairs (1.68x the ideal wall time), 40 used 97% (1.08x).

    With time slices on, pages that wait past spool.SPOOL_BUDGET go to a temporary file,
    so `spooled` budgets disk instead: at least SPOOLED_MIN pages each (1,000 pairs: 8,
    about 600 MB of disk at most), where memory alone would have left them none, and up to
    SPOOLED_MAX. The ordered merge needs the room when pairs are uneven: a sparse pair
    runs ahead of the busiest one in time and waits with its pages, and one whose room is
    full stops, so its next slice has nothing ready when its turn comes and the whole
    merge waits a page's latency for it. 100 pairs at 1 s a page, 3 to 91 pages each
    (benchmarks/latency.py): 40 pages of room took 2.6 to 4.3x the ideal span, 58 took
    1.35x, 80 1.08x, 100 1.04x (--read-ahead 200: 1.08x, --unordered: 1.10x).
    """
    if spooled:  # time-sliced pairs: past spool.SPOOL_BUDGET pages, waiting costs disk
        budget = max(SPOOLED_MIN, SPOOLED_BUDGET // max(1, pairs) - 2)
        return min(SPOOLED_MAX, budget)
    return max(0, min(READ_AHEAD_MAX, READ_AHEAD_BUDGET // max(1, pairs) - 2))
