"""The sweep: resolve the matrix, run one limited pager per pair, merge newest first.

    async with aclosing(sweep(config, report=report)) as events:
        async for event in events:          # SweepEvent, globally ordered
            out.write(event.line())

`sweep_chunks` yields the same events in lists (what the sinks use: one step of the
async generators per list rather than per event).

Pairs that fail (AccessDenied, region not enabled, retry budget spent) end their stream
early and are listed in the report; the others go on (docs/design.md invariant 7).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup
from botocore.exceptions import BotoCoreError, ClientError

from trailsweep.aws import stalls
from trailsweep.aws.discovery import select_accounts
from trailsweep.aws.lookup_clients import LookupClients, lookup_clients
from trailsweep.aws.retry import classify
from trailsweep.aws.sessions import SessionPool
from trailsweep.aws.stalls import StallWatch
from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.base.errors import TrailsweepError
from trailsweep.engine.merge import interleave_batches, merge_chunks, prefetched
from trailsweep.engine.pair import PairContext, PairState, SweepEvent, event_key
from trailsweep.engine.pair_stream import pair_source
from trailsweep.engine.slices import MAX_CHAINS
from trailsweep.engine.spool import Spool, auto_read_ahead
from trailsweep.engine.workers import split, worker_sources
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.filters import PathsSeen
from trailsweep.settings.query import RETENTION, Query
from trailsweep.settings.shards import Shard, assign
from trailsweep.settings.workers import workers_for

_DISCOVERY_CONCURRENCY = 16


class Increment(Protocol):
    """What an incremental run (`output.state.Increment`) learns from its sweep."""

    def begin(self, pairs: list[PairState], query: Query) -> None:
        """The pairs, before any call: set each one's `since` and `seen`."""

    def written(self, chunk: Sequence[SweepEvent]) -> None:
        """`chunk` is written (in the file, on stdout), in order."""

    def as_dict(self) -> dict[str, Any]:
        """What the summary says of it."""


@dataclass(slots=True)
class SweepReport:
    """What happened, for the summary and the exit code; live while the sweep runs::

        async with trailsweep.open_sweep(settings) as events:
            async for event in events:
                ...
        report: trailsweep.SweepReport = events.report
        print(report.events, report.calls, report.throttled, report.exit_code)
        for pair in report.failed:  # each pair: account, region, state, error
            print(pair.account, pair.region, pair.error)
        print(report.as_dict())  # what `--summary-json` holds of it

    `exit_code`: 0 every pair complete, 1 some failed, 130 interrupted."""

    pairs: list[PairState] = field(default_factory=list)
    written: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    interrupted: bool = False
    spooled: int = 0  # pages that waited on disk rather than in memory (spool.py)
    limited: bool = False  # stopped at --max-items (exit 0: what was asked for)
    where_seen: PathsSeen | None = None  # which --where paths the records read held
    # An incremental run's bookkeeping (output.state.Increment): the sweep gives it the
    # pairs before any call and every chunk once written.
    increment: Increment | None = None

    @property
    def stopped(self) -> list[PairState]:
        """Pairs left unfinished because the sweep reached --max-items."""
        return [p for p in self.pairs if not p.finished] if self.limited else []

    @property
    def failed(self) -> list[PairState]:
        return [p for p in self.pairs if p.state == "failed"]

    @property
    def events(self) -> int:
        """Events handed on over all pairs: written by a sink, or yielded to the caller of
        `trailsweep.open_sweep` / `iter_events` (each advances its pair's cursor)."""
        return sum(p.cursor.written for p in self.pairs)

    @property
    def calls(self) -> int:
        """LookupEvents calls made over all pairs."""
        return sum(p.calls for p in self.pairs)

    @property
    def throttled(self) -> int:
        """LookupEvents calls answered ThrottlingException over all pairs."""
        return sum(p.throttled for p in self.pairs)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed else 0

    def as_dict(self) -> dict[str, Any]:
        elapsed = (self.finished or time.monotonic()) - self.started
        return {
            "pairs": len(self.pairs),
            "done": sum(p.state == "done" and p.finished for p in self.pairs),
            "stopped_at_max_items": len(self.stopped),
            "failed": len(self.failed),
            "events": self.events,
            "calls": self.calls,
            "throttled": self.throttled,
            "seconds": round(elapsed, 3),
            "exit_code": self.exit_code,
            "failures": [p.as_dict() for p in self.failed],
        }


async def resolve_matrix(pool: SessionPool, config: SweepSettings) -> list[PairState]:
    """The (account, region) pairs to sweep, sorted: the whole matrix (`discover_matrix`),
    or with `config.shard` the pairs of that shard alone."""
    pairs = await discover_matrix(pool, config)
    return pairs if config.shard is None else shard_pairs(pairs, config.shard)


def shard_pairs(pairs: list[PairState], shard: Shard) -> list[PairState]:
    """The pairs of `shard`, in their order. The rule (settings/shards.py `assign`) deals
    each account's regions over the shards, so it is applied to the whole matrix at once;
    an account whose regions could not be listed has its one '*' pair, which goes where
    an account of one region would."""
    owner = assign([(p.account, p.region) for p in pairs], shard.count)
    return [p for p in pairs if owner[(p.account, p.region)] == shard.index]


async def discover_matrix(pool: SessionPool, config: SweepSettings) -> list[PairState]:
    """Every (account, region) pair of the settings' accounts and regions, whatever the
    shard, sorted; accounts whose regions cannot be listed become one failed pair with
    region '*'."""
    caller = await pool.identify()
    accounts = await select_accounts(pool, config.accounts, config.exclude_accounts, caller)
    if config.regions != "all":
        regions = config.regions or [pool.region or "us-east-1"]
        return [PairState(a, r) for a in accounts for r in regions]
    found: dict[str, list[str] | PairState] = {}
    limit = anyio.CapacityLimiter(_DISCOVERY_CONCURRENCY)

    async def discover(account: str) -> None:
        async with limit:
            try:
                found[account] = await pool.enabled_regions(account)
            except (ClientError, BotoCoreError, TrailsweepError) as err:
                _, code, message = classify(err, pool.secrets)
                failed = PairState(account, "*")
                failed.fail(code, f"cannot list regions: {message}")
                found[account] = failed

    async with anyio.create_task_group() as tg:
        for account in accounts:
            tg.start_soon(discover, account)
    pairs: list[PairState] = []
    for account in accounts:
        got = found[account]
        pairs.extend([got] if isinstance(got, PairState) else [PairState(account, r) for r in got])
    return pairs


async def sweep(
    config: SweepSettings,
    *,
    report: SweepReport | None = None,
    clock: Clock = SYSTEM_CLOCK,
    prefetch: int | None = None,
    pairs: list[PairState] | None = None,
) -> AsyncGenerator[SweepEvent, None]:
    """Every event of the sweep, newest first across all pairs (an async generator).

    Each pair fetches its next page while the merge consumes the current one, and may hold
    `prefetch` (default: `config.read_ahead`) more ready: the merge stalls whenever the
    pair whose page boundary comes next has nothing ready.
    `pairs` (from a checkpoint) skips discovery: each pair goes on from its cursor, and
    pairs already finished are left alone. The settings decide the rest: `config.lean=False`
    makes the calls through aioboto3's client (with the orjson parse hook) instead of
    `lean.LeanLookup`, for comparison; `config.unordered` yields each page's events as soon
    as they arrive (order holds only within a pair, nothing waits for the slowest pair);
    `config.raw` is what each event's `ndjson()` writes. Use `contextlib.aclosing` to stop
    early."""
    chunks = sweep_chunks(config, report=report, clock=clock, prefetch=prefetch, pairs=pairs)
    async with aclosing(chunks):
        async for chunk in chunks:
            for event in chunk:
                yield event


async def sweep_chunks(
    config: SweepSettings,
    *,
    report: SweepReport | None = None,
    clock: Clock = SYSTEM_CLOCK,
    prefetch: int | None = None,
    pairs: list[PairState] | None = None,
    on_matrix: Callable[[], None] | None = None,
    pool: SessionPool | None = None,
    clients: LookupClients | None = None,
) -> AsyncGenerator[Sequence[SweepEvent], None]:
    """`sweep`'s events in order, in lists (each list is counted in `report.written` once
    the consumer asks for the next one). `on_matrix` is called once a discovered matrix
    is in `report.pairs`, before any LookupEvents call (an export checkpoints it there).
    `pool` and `clients`: sessions and clients already open (kept open), instead of the
    sweep's own."""
    report = report if report is not None else SweepReport()
    if config.query.where:  # this sweep's own record of the --where paths it met
        report.where_seen = PathsSeen(config.query.where)
        query = dataclasses.replace(config.query, seen=report.where_seen)
        config = dataclasses.replace(config, query=query)
    async with AsyncExitStack() as stack:
        given = pool is not None  # its caller has asked who it is already
        if pool is None:
            pool = await stack.enter_async_context(open_pool(config))
        if pairs is None:
            report.pairs = await resolve_matrix(pool, config)
            if on_matrix is not None:
                on_matrix()
        else:
            if not given:
                await pool.identify()
            report.pairs = pairs
        for pair in report.pairs:
            pair.raw = config.raw
        if report.increment is not None:
            report.increment.begin(report.pairs, config.query)
        run_ = _run(pool, config, report, clock, prefetch, clients)
        async with aclosing(run_) as run:
            async for chunk in run:
                yield chunk
    report.finished = time.monotonic()


def open_pool(config: SweepSettings) -> SessionPool:
    """The sessions of a sweep (`async with`): its base credentials and assumed roles.
    `sweep_chunks(pool=...)` runs in one already open (a follower's polls share one)."""
    return SessionPool(
        profile=config.profile, region=config.region, endpoint_url=config.endpoint_url,
        role_name=config.role_name, external_id=config.external_id,
        session_name=config.session_name, access_key_id=config.access_key_id,
        secret_access_key=config.secret_access_key, timeouts=config.timeouts,
    )  # fmt: skip


def open_clients(
    pool: SessionPool, config: SweepSettings, pairs: int
) -> AbstractAsyncContextManager[LookupClients]:
    """The LookupEvents clients of a sweep of `pairs` pairs (`async with`);
    `sweep_chunks(clients=...)` uses ones already open (a follower's polls share them)."""
    return lookup_clients(
        pool, pairs=pairs, timeouts=config.timeouts, chains=MAX_CHAINS, lean=config.lean
    )


async def _run(
    pool: SessionPool, config: SweepSettings, report: SweepReport, clock: Clock,
    prefetch: int | None, clients: LookupClients | None = None,
) -> AsyncGenerator[Sequence[SweepEvent], None]:  # fmt: skip
    active = [p for p in report.pairs if not p.finished]
    limit = config.query.max_items
    async with AsyncExitStack() as stack, anyio.create_task_group() as tg:
        depth = _depth(config, prefetch, len(active))
        workers = workers_for(config.workers, len(active))
        if workers > 1:  # each worker's events come in order: merged as pages are
            ctx = worker_sources(config, split(active, workers), depth, tg, report)
            pages = await stack.enter_async_context(ctx)
        else:
            local = _local(pool, config, report, clock, clients, stack, tg, depth)
            pages = await local.add_all(active)
        if config.unordered:
            stream = interleave_batches(pages, tg)
        else:
            stream = merge_chunks(pages, key=event_key)
        try:
            async for chunk in stream:
                if limit is not None and len(chunk) >= limit - report.written:
                    # As one event at a time: stop once `limit` are written (and always
                    # yield one first).
                    chunk = chunk[: max(1, limit - report.written)]
                    report.limited = True
                    yield chunk
                    _written(report, chunk)
                    break
                yield chunk
                _written(report, chunk)
        except GeneratorExit:
            # The consumer stopped early (aclose, a closed pipe). Stop the pagers and end
            # normally: re-raising inside the task group would come out as an exception
            # group instead of a clean close.
            pass
        tg.cancel_scope.cancel()


def _local(
    pool: SessionPool, config: SweepSettings, report: SweepReport, clock: Clock,
    clients: LookupClients | None, stack: AsyncExitStack, tg: TaskGroup, depth: int,
) -> _Sources:  # fmt: skip
    """The sources of a sweep in this process: its spool (counted in the report when
    it closes) and stall watch; the clients are opened by `_Sources.add_all`."""
    spool = Spool()
    watch = stalls.start(clock, tg)  # this sweep's: a stall is not latency

    def close_spool() -> None:
        report.spooled += spool.spooled
        spool.close()

    stack.callback(close_spool)
    return _Sources(pool, clients, config, clock, stack, tg, spool, depth, watch)


def _written(report: SweepReport, chunk: Sequence[SweepEvent]) -> None:
    """The consumer asked for the next chunk: `chunk` is written."""
    report.written += len(chunk)
    if report.increment is not None:
        report.increment.written(chunk)


def _depth(config: SweepSettings, prefetch: int | None, active: int) -> int:
    """Pages each pair may hold ready: `prefetch`, else the settings' read-ahead, else
    sized for `active` pairs."""
    if prefetch is not None:
        return prefetch
    if config.read_ahead is not None:
        return config.read_ahead
    return auto_read_ahead(active, spooled=config.slices)


@dataclass(slots=True)
class _Sources:
    """The page streams of a sweep's pairs, each wired by `PairContext.open`."""

    pool: SessionPool
    clients: LookupClients | None
    config: SweepSettings
    clock: Clock
    stack: AsyncExitStack
    tg: TaskGroup
    spool: Spool
    depth: int
    watch: StallWatch | None
    pages: list[AsyncIterator[Sequence[SweepEvent]]] = field(default_factory=list)

    async def add_all(self, pairs: list[PairState]) -> list[AsyncIterator[Sequence[SweepEvent]]]:
        """The page streams of `pairs`, in their order (the clients opened first, unless
        the sweep was given them)."""
        if self.clients is None:
            opened = open_clients(self.pool, self.config, len(pairs))
            self.clients = await self.stack.enter_async_context(opened)
        for pair in pairs:
            await self.add(pair, ordered=not self.config.unordered)
        return self.pages

    async def add(self, pair: PairState, *, ordered: bool) -> None:
        """The pair's pages; ahead of the merge by `depth` (a SlicedPager reads ahead on
        its own, and unordered output does not wait for them)."""
        config = self.config
        assert self.clients is not None  # add_all opened them
        ctx = await PairContext.open(
            self.clients, pair, pair_query(config.query, pair), rate=config.rate, clock=self.clock,
            refresh=self.pool.refresher(pair.account), watch=self.watch, secrets=self.pool.secrets,
        )  # fmt: skip
        pages = pair_source(
            ctx, depth=self.depth, task_group=self.tg, sliced=config.slices, spool=self.spool
        )
        if ordered and not config.slices:
            pages = await self.stack.enter_async_context(prefetched(pages, self.depth, self.tg))
        self.pages.append(pages)


def pair_query(query: Query, pair: PairState) -> Query:
    """The question `pair` asks: the sweep's, from the pair's own start when an incremental
    run gave it one (`PairState.since`: earlier or later than the sweep's start, within
    CloudTrail's 90 days before the end)."""
    if pair.since is None:
        return query
    since = datetime.fromtimestamp(pair.since, UTC)
    return dataclasses.replace(query, start=min(max(since, query.end - RETENTION), query.end))
