"""A pair: one (account, region) of the matrix, its progress, where its written events
end (the cursor a checkpoint stores), and the events it yields."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Literal

import orjson

from trailsweep.base.sanitize import clean
from trailsweep.engine.record import ndjson_line, ndjson_lines

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
    """The NDJSON lines of `events`, joined (`SweepEvent.line` of each, in one go)."""
    return ndjson_lines(events, raw=raw)


# The merge key of an event (newest first, then account, region, API order); attrgetter
# runs in C, and the merges call it for every page head.
event_key: Callable[[SweepEvent], tuple[int, str, str, int]] = attrgetter("key")
