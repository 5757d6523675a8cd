"""A pair: one (account, region) of the matrix, its progress, where its written events
end (the cursor a checkpoint stores), the events it yields, what its chains share
(`PairContext`) and where one of them walks (`ChainSpec`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Literal

import orjson

from trailsweep.aws.adaptive import AdaptiveRate
from trailsweep.aws.client import LookupClient
from trailsweep.aws.limiter import RateLimiter
from trailsweep.aws.lookup_clients import LookupClients
from trailsweep.aws.retry import RetryBudget
from trailsweep.aws.stalls import StallWatch
from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.base.sanitize import Secrets, clean
from trailsweep.engine.record import ndjson_line, ndjson_lines
from trailsweep.settings.query import Query

State = Literal["pending", "running", "done", "failed"]


@dataclass(slots=True)
class Cursor:
    """Where a pair's *written* events end, enough to continue exactly there:
    the page holding the next unwritten event (its NextToken, or None for a first page,
    and the EndTime it was asked with after a token fallback), how many of its events are
    written, and the oldest written second with the EventIds written at it."""

    end: int | None = None
    token: str | None = None
    skip: int = 0
    oldest: int | None = None
    ids: list[str] = field(default_factory=list)
    written: int = 0

    def advance(self, event: SweepEvent) -> None:
        """Record that `event` was written."""
        page = event.page
        self.end, self.token, self.skip = page.end, page.token, event.index + 1
        when = -event.key[0]
        if when != self.oldest:
            self.oldest, self.ids = when, []
        self.ids.append(str(event.event.get("EventId", "")))
        self.written += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "end": self.end,
            "token": self.token,
            "skip": self.skip,
            "oldest": self.oldest,
            "ids": self.ids,
            "written": self.written,
        }


@dataclass(slots=True)
class PairState:
    """What the summary, progress and checkpoint know about one pair."""

    account: str
    region: str
    state: State = "pending"
    events: int = 0  # events yielded by the pager (written or on their way)
    calls: int = 0
    throttled: int = 0
    retries: int = 0
    error: str | None = None
    cursor: Cursor = field(default_factory=Cursor)
    rate: float = 0.0  # current calls/s allowed (adaptive); 0 until the pair starts
    latency: float = 0.0  # seconds a call takes (moving average of successful calls)
    # How its events are written: CloudTrailEvent kept as the API's string (the sweep's
    # `raw` setting, set by engine.sweep.sweep_chunks; what SweepEvent.ndjson follows).
    raw: bool = False
    # An incremental run's own window for this pair (output.state, output.increment): its
    # StartTime in epoch seconds (None: the query's), and what earlier runs already wrote
    # inside it: EventIds, and spans of seconds (open intervals) written whole. Its pagers
    # skip those as a client-side filter does (looked at, not counted as events). None of
    # it is checkpointed: a resumed run reads the same state file again, which does not
    # change until the run is over.
    since: int | None = None
    seen: frozenset[str] = frozenset()
    spans: tuple[tuple[int, int], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.account}/{self.region}"

    @property
    def finished(self) -> bool:
        """Done and every event written, or failed: nothing left to do on a resume."""
        return self.state == "failed" or (
            self.state == "done" and self.cursor.written == self.events
        )

    @property
    def failed(self) -> bool:
        return self.state == "failed"

    def begin_run(self, rate: float) -> None:
        """The pair starts fetching from its cursor (whatever runs its chains calls this)."""
        self.events = self.cursor.written
        self.state = "running"
        self.rate = rate

    def end_run(self) -> None:
        """Its chains ended: done, unless one of them failed it."""
        if not self.failed:
            self.state = "done"

    def fail(self, code: str, reason: str) -> None:
        # Both may quote a server: cleaned here, so stderr, summary JSON and checkpoint
        # only ever hold the safe text.
        self.state = "failed"
        self.error = clean(f"{code}: {reason}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "state": self.state,
            "events": self.cursor.written,
            "calls": self.calls,
            "throttled": self.throttled,
            "retries": self.retries,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class PairContext:
    """What every NextToken chain of one pair shares: the pair, its LookupEvents client, its
    one limiter (docs/design.md invariant 2) with the pace and retry budget over it, the
    question, the clock, and what renews an expired session (None: nothing to renew).
    `engine.pager.Pager`, `engine.slices.SlicedPager` and `engine.pair_stream.pair_source`
    all start from one.

        ctx = await PairContext.open(clients, pair, query, rate=2.0, clock=clock)
        async for page in Pager(ctx).pages(): ...
    """

    pair: PairState
    client: LookupClient
    limiter: RateLimiter
    query: Query
    clock: Clock = SYSTEM_CLOCK
    refresh: Callable[[], Awaitable[None]] | None = None
    # The sweep's own stall watch (aws.stalls.start) and the credentials its sessions hold,
    # redacted from the server's error text.
    watch: StallWatch | None = None
    secrets: Secrets | None = None
    # The pair's pace (adapting to throttles) and retry budget: shared by its chains too.
    pace: AdaptiveRate = field(init=False)
    budget: RetryBudget = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pace", AdaptiveRate(self.limiter))
        object.__setattr__(self, "budget", RetryBudget())

    @classmethod
    async def open(
        cls, clients: LookupClients, pair: PairState, query: Query, *, rate: float,
        clock: Clock = SYSTEM_CLOCK, refresh: Callable[[], Awaitable[None]] | None = None,
        watch: StallWatch | None = None, secrets: Secrets | None = None,
    ) -> PairContext:  # fmt: skip
        """The pair's client (`clients.for_pair`) and a new limiter of `rate` calls/s."""
        client = await clients.for_pair(pair.account, pair.region)
        limiter = RateLimiter(rate, clock=clock)
        return cls(pair, client, limiter, query, clock, refresh, watch, secrets)


@dataclass(frozen=True, slots=True)
class ChainSpec:
    """Where one NextToken chain of a pair walks, when it is not the pair's only chain.

    A pair usually has one chain: `ChainSpec()`. With several values of the attribute sent
    to the API (`--lookup-attributes` OR), `pair_stream.pair_source` runs one chain per
    value (`index`), starting from the pair cursor's oldest written second (`by_time`)
    rather than its NextToken. `slices.SlicedPager` runs chains on time slices: `window`
    (StartTime, EndTime) instead of the query's, from `start` instead of the pair's
    cursor, with merge keys from `seq_base` on, handing each page's body on with its
    events (`keep_raw`, for its spool). Chains that share a pair leave its bookkeeping
    (state, event count) to whatever runs them (`track=False`)."""

    index: int = 0
    start: Cursor | None = None
    by_time: bool = False
    window: tuple[int, int] | None = None
    seq_base: int | None = None  # None: `index << 40` (ties: by chain, then API order)
    track: bool = True
    keep_raw: bool = False


@dataclass(frozen=True, slots=True)
class PageRef:
    """How a page was asked for: its NextToken (None: first page) and EndTime override;
    and what came back: how many events it served and the NextToken it returned."""

    token: str | None
    end: int | None
    size: int = 0
    next: str | None = None


@dataclass(slots=True, eq=False)  # not frozen: frozen __init__ costs a microsecond an event
class SweepEvent:
    """One CloudTrail event of a sweep, with the account and region it came from::

        async with trailsweep.open_sweep(settings) as events:
            async for event in events:  # each a trailsweep.SweepEvent
                print(event.time, event.account, event.region, event.name, event.id)
                who = event.record["userIdentity"]      # the parsed CloudTrail record
                line = event.ndjson()                   # the NDJSON line the CLI writes

    `to_dict()` is that line as a dict. `event` holds the LookupEvents event as the API
    returned it (EventTime in epoch seconds, CloudTrailEvent a string).

    Inside the engine, `key` orders the merge: newest first, then account, region, then the
    order LookupEvents returned it in (docs/design.md invariant 3); `page` and `index` (its
    position in that page as served) are what a checkpoint needs."""

    key: tuple[int, str, str, int]
    pair: PairState = field(repr=False)
    event: dict[str, Any] = field(repr=False)
    page: PageRef = field(repr=False)
    index: int = 0

    @property
    def account(self) -> str:
        return self.pair.account

    @property
    def region(self) -> str:
        return self.pair.region

    @property
    def time(self) -> datetime:
        """EventTime, in UTC (whole seconds, as LookupEvents gives it)."""
        return datetime.fromtimestamp(int(self.event["EventTime"]), UTC)

    @property
    def id(self) -> str:
        """EventId."""
        return str(self.event.get("EventId", ""))

    @property
    def name(self) -> str:
        """EventName, such as ConsoleLogin."""
        return str(self.event.get("EventName", ""))

    @property
    def record(self) -> dict[str, Any]:
        """The CloudTrail record (CloudTrailEvent), parsed; {} when the API sent none."""
        text = self.event.get("CloudTrailEvent")
        if text is None:
            return {}
        parsed: dict[str, Any] = orjson.loads(text)
        return parsed

    def ndjson(self, *, raw: bool | None = None) -> bytes:
        """The NDJSON line (with its newline) the CLI writes for this event: CloudTrailEvent
        parsed, or the API's string when `raw` (default: the sweep's `raw` setting)."""
        return self.line(raw=self.pair.raw if raw is None else raw)

    def to_dict(self, *, raw: bool | None = None) -> dict[str, Any]:
        """`ndjson()` as a dict: account, region, EventTime (ISO 8601 UTC), EventId, ..."""
        parsed: dict[str, Any] = orjson.loads(self.ndjson(raw=raw))
        return parsed

    def line(self, *, raw: bool = False) -> bytes:
        return ndjson_line(self.pair.account, self.pair.region, self.event, raw=raw)


@dataclass(slots=True, eq=False)
class ShippedEvent(SweepEvent):
    """An event a worker process swept (engine/workers.py): its NDJSON line made there,
    and of the LookupEvents event only what the writing side reads (EventId, EventTime).
    A chunk of a sweep run in workers holds only these; `lines` joins their `text`."""

    text: bytes = b""

    def line(self, *, raw: bool = False) -> bytes:
        return self.text


def advance_all(events: Iterable[SweepEvent]) -> None:
    """`event.pair.cursor.advance(event)` for each of `events` in order, inlined (the sinks
    call this once per written chunk)."""
    for event in events:
        cur = event.pair.cursor
        page = event.page
        cur.end = page.end
        cur.token = page.token
        cur.skip = event.index + 1
        when = -event.key[0]
        if when != cur.oldest:
            cur.oldest = when
            cur.ids = []
        cur.ids.append(str(event.event.get("EventId", "")))
        cur.written += 1


def lines(events: Iterable[SweepEvent], *, raw: bool = False) -> bytes:
    """The NDJSON lines of `events`, joined (`SweepEvent.line` of each, in one go). A chunk
    of a sweep run in workers holds only `ShippedEvent`s: their lines, made where they were
    swept, are joined as they are (`raw` was the workers' to follow)."""
    if isinstance(events, list) and events and type(events[0]) is ShippedEvent:
        return b"".join([event.text for event in events])
    return ndjson_lines(events, raw=raw)


def coverage(pair: PairState, start: float, end: float) -> float:
    """The share of the window [start, end] that `pair` has covered, 0 to 1. A pair walks
    the window from its end back to its start, so this is (end - oldest second written) /
    (end - start); 1 once it is done with every event written. A failed pair keeps what it
    reached."""
    if pair.state == "done" and pair.finished:
        return 1.0
    oldest = pair.cursor.oldest
    if oldest is None:
        return 0.0
    return min(1.0, max(0.0, (end - oldest) / max(1.0, end - start)))


def window_coverage(pairs: Sequence[PairState], start: float, end: float) -> float:
    """The share of the window [start, end] that `pairs` have covered: `coverage` averaged
    over them, 0 with none. The progress bar and `trailsweep status` both show this."""
    return sum(coverage(p, start, end) for p in pairs) / max(1, len(pairs))


# The merge key of an event (newest first, then account, region, API order); attrgetter
# runs in C, and the merges call it for every page head.
event_key: Callable[[SweepEvent], tuple[int, str, str, int]] = attrgetter("key")
