"""Follow mode (`sweep --follow`): catch up, then poll every pair every --poll-interval
and write new events as they arrive, until stopped.

Each poll is an incremental run (output/increment.py) in the sessions the follower keeps
open: every pair from its mark minus the look-back to the poll's moment, skipping what
was written. An idle pair costs one call per poll; a busy one pages what is new plus the
look-back. Each poll's pairs have their own limiter at the sweep's rate, and a poll
starts at least one call interval after the previous one ended, so no pair ever goes
past its quota (docs/design.md invariant 2).

What a follower writes (decision, tested in tests/test_follow.py):
- by default, each event as soon as a poll sees it, exactly once: a poll's events are
  newest first across all pairs (one ordered sweep); from poll to poll time goes on,
  but a late event comes after newer ones written by an earlier poll;
- with --settle, an event is held until its EventTime is older than the look-back, then
  written oldest first across all pairs, like a log: the output is in time order as
  long as no event arrives later than the look-back. Held events are not in the state;
  a stopped follower drops them, and its next run sees them again.

A pair that fails is retried on later polls, waiting 1, 2, 4... polls (at most 10
minutes) between tries, and named in the periodic line. Memory stays flat over days:
EventIds are kept for the look-back only, lags in fixed buckets (api/lag.py).
"""

from __future__ import annotations

import dataclasses
import heapq
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trailsweep.api.incremental import Quiet
from trailsweep.api.lag import LagStats, span
from trailsweep.aws.lookup_clients import LookupClients
from trailsweep.aws.sessions import SessionPool
from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.engine.pair import PairState, SweepEvent, advance_all, lines
from trailsweep.engine.sweep import (
    SweepReport,
    open_clients,
    open_pool,
    resolve_matrix,
    sweep_chunks,
)
from trailsweep.output.follow_parts import FollowParts
from trailsweep.output.increment import Increment
from trailsweep.output.state import State
from trailsweep.settings.config import SweepSettings

__all__ = ["FollowParts", "Follower"]

_REDISCOVER = 600.0  # seconds between looks at the organization's accounts and regions
_MAX_BACKOFF = 600.0


@dataclass(slots=True)
class _Held:
    """--settle: the events seen and not yet written, oldest first, one per EventId."""

    heap: list[tuple[int, str, str, str, SweepEvent]] = field(default_factory=list)
    ids: set[tuple[str, str]] = field(default_factory=set)

    def add(self, chunk: Sequence[SweepEvent]) -> list[SweepEvent]:
        """Hold the events of `chunk` not held yet; returns those."""
        fresh = []
        for ev in chunk:
            key = (ev.pair.name, ev.id)
            if key not in self.ids:
                self.ids.add(key)
                heapq.heappush(self.heap, (-ev.key[0], ev.account, ev.region, ev.id, ev))
                fresh.append(ev)
        return fresh

    def settled(self, before: int) -> list[SweepEvent]:
        out = []
        while self.heap and self.heap[0][0] < before:
            *_, ev = heapq.heappop(self.heap)
            self.ids.discard((ev.pair.name, ev.id))
            out.append(ev)
        return out


@dataclass(slots=True)
class Follower:
    """A follow run: `await follower.run(write, flush)` until cancelled; `commit()` then
    gives the state as far as written (what the CLI saves on SIGINT/SIGTERM)."""

    settings: SweepSettings
    state: State
    clock: Clock = SYSTEM_CLOCK
    save: Callable[[State], None] | None = None
    on_poll: Callable[[Follower], None] | None = None  # after each poll is saved
    report: SweepReport = field(default_factory=SweepReport)  # the running poll's
    lag: LagStats = field(default_factory=LagStats)
    pair_lag: dict[str, LagStats] = field(default_factory=dict)
    polls: int = 0
    events: int = 0
    calls: int = 0
    throttled: int = 0
    newest: int | None = None  # the newest EventTime written
    last_end: int | None = None  # the pinned end of the last poll that finished
    failing: dict[str, tuple[int, float]] = field(default_factory=dict)  # tries, next try
    current: Increment | None = None
    _held: _Held = field(default_factory=_Held)
    _recent: deque[tuple[float, int]] = field(default_factory=deque)  # (poll's end, events)
    _counted: int = 0
    _matrix: list[tuple[str, str]] = field(default_factory=list)
    _found_at: float | None = None

    async def run(self, write: Callable[[bytes], None], flush: Callable[[], None]) -> None:
        """Poll until cancelled; each poll's lines go to `write`, then `flush`, then the
        state to `save` (when given)."""
        cfg, clock = self.settings, self.clock
        window = cfg.query.end - cfg.query.start  # a new pair's first window
        async with open_pool(cfg) as pool, open_clients(pool, cfg, 64) as clients:
            while True:
                begun = clock.monotonic()
                if self._found_at is None or begun - self._found_at >= _REDISCOVER:
                    found = await resolve_matrix(pool, cfg)
                    self._matrix = [(p.account, p.region) for p in found if p.region != "*"]
                    self._found_at = begun
                now = datetime.fromtimestamp(int(clock.wall()), UTC)
                query = dataclasses.replace(cfg.query, start=now - window, end=now)
                poll = dataclasses.replace(cfg, query=query)
                await self._poll(poll, pool, clients, write, flush)
                ended = clock.monotonic()
                gap = max(cfg.poll_interval - (ended - begun), 1.0 / cfg.rate)
                await clock.sleep(gap)

    async def _poll(
        self, cfg: SweepSettings, pool: SessionPool, clients: LookupClients,
        write: Callable[[bytes], None],
        flush: Callable[[], None],
    ) -> None:  # fmt: skip
        inc = self.current = Increment(self.state, cfg.lookback)
        report = self.report = SweepReport()
        report.increment = Quiet(inc) if cfg.settle else inc
        pairs = self._due()
        seen_at = int(cfg.query.end.timestamp())
        async with aclosing(
            sweep_chunks(
                cfg, report=report, pairs=pairs, clock=self.clock, pool=pool, clients=clients
            )
        ) as chunks:
            async for chunk in chunks:
                if cfg.settle:
                    self._measure(self._held.add(chunk), seen_at)
                    advance_all(chunk)  # handed over: the pair can finish its poll
                else:
                    self._measure(chunk, seen_at)
                    write(lines(chunk, raw=cfg.raw))
                    advance_all(chunk)
                    self._wrote(chunk)
        if cfg.settle:
            settled = self._held.settled(seen_at - cfg.lookback)
            if settled:
                write(lines(settled, raw=cfg.raw))
                inc.written(settled)
                self._wrote(settled)
        self.last_end = seen_at
        self._after(report)
        self.state = inc.commit()
        self.current = None
        flush()  # into parts: may close one, which saves `state` (api/follow_parts.py)
        if self.save is not None:
            self.save(self.state)
        if self.on_poll is not None:
            self.on_poll(self)

    def _due(self) -> list[PairState]:
        """This poll's pairs: every pair of the matrix but those waiting out a failure."""
        now = self.clock.monotonic()
        return [
            PairState(a, r)
            for a, r in self._matrix
            if self.failing.get(f"{a}/{r}", (0, 0.0))[1] <= now
        ]

    def _measure(self, chunk: Sequence[SweepEvent], seen_at: int) -> None:
        marks = self.state.marks
        for ev in chunk:
            mark = marks.get(ev.pair.name)
            if mark is None or mark.end is None:
                continue  # the pair's first poll: catching up, not lag
            late = seen_at - int(ev.event["EventTime"])
            self.lag.add(late)
            stats = self.pair_lag.get(ev.pair.name)
            if stats is None:
                stats = self.pair_lag[ev.pair.name] = LagStats()
            stats.add(late)

    def _wrote(self, chunk: Sequence[SweepEvent]) -> None:
        self.events += len(chunk)
        top = max(int(ev.event["EventTime"]) for ev in chunk)
        self.newest = top if self.newest is None else max(self.newest, top)

    def per_minute(self) -> float:
        """Events written a minute over the last minute of polls (or the first poll's)."""
        recent = self._recent
        if not recent:
            return 0.0
        span = max(recent[-1][0] - recent[0][0], float(self.settings.poll_interval))
        return sum(n for _, n in recent) * 60.0 / span

    def _after(self, report: SweepReport) -> None:
        now = self.clock.monotonic()
        self._recent.append((now, self.events - self._counted))
        self._counted = self.events
        while self._recent and now - self._recent[0][0] > 60.0:
            self._recent.popleft()
        self.polls += 1
        self.calls += report.calls
        self.throttled += report.throttled
        now = self.clock.monotonic()
        for pair in report.pairs:
            if pair.failed:
                tries = self.failing.get(pair.name, (0, 0.0))[0] + 1
                wait = min(_MAX_BACKOFF, self.settings.poll_interval * 2 ** (tries - 1))
                self.failing[pair.name] = (tries, now + wait)
            else:
                self.failing.pop(pair.name, None)

    def commit(self) -> State:
        """The state as far as written: the running poll's pairs that finished marked at
        its end, the others keeping their marks (a stop between polls: the last poll's)."""
        # With --settle a poll's events are held, not written: a stop mid-poll keeps the
        # last poll's state, which accounts for every event written.
        if self.current is not None and self.current.pairs and not self.settings.settle:
            self.state = self.current.commit()
            self.current = None
        return self.state

    def line(self) -> str:
        """The periodic line on stderr: polls, events, their rate, lag, how far behind."""
        lag = self.lag
        behind = "-" if self.newest is None else span(int(self.clock.wall()) - self.newest)
        failing = f"; {len(self.failing)} pairs failing" if self.failing else ""
        return (
            f"trailsweep: following {len(self._matrix)} pairs: {self.polls} polls, "
            f"{self.events} events, {self.per_minute():.0f}/min ({self.calls} calls, "
            f"{self.throttled} throttled); lag "
            f"p50 {span(lag.quantile(0.5))} p99 {span(lag.quantile(0.99))} max "
            f"{span(lag.most if lag.count else None)}; newest event {behind} behind now"
            f"{failing}\n"
        ) + self._warning()

    def _warning(self) -> str:
        p99, lookback = self.lag.quantile(0.99), self.settings.lookback
        if p99 is None or p99 * 5 < lookback * 4:
            return ""
        return (
            f"warning: p99 lag {span(p99)} is within a fifth of --lookback {span(lookback)}; "
            "events later than the look-back are missed: make it longer\n"
        )

    def as_dict(self) -> dict[str, Any]:
        """What --summary-json says of a follow run."""
        return {
            "polls": self.polls,
            "events": self.events,
            "calls": self.calls,
            "throttled": self.throttled,
            "lag": self.lag.as_dict(),
            "pair_lag": {name: s.as_dict() for name, s in sorted(self.pair_lag.items())},
            "failing": sorted(self.failing),
        }
