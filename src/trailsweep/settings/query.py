"""The question a sweep asks every pair: a pinned window, attributes, record filters, a category.

`build_query` turns what the user typed (flags, config, --cli-input-json) into a frozen
`Query`, checking every rule of the LookupEvents contract before any call is made
(docs/design.md invariant 8). The window is pinned here: EndTime defaults to the moment the sweep
starts (and a later EndTime is cut to it), StartTime to 90 days before EndTime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from trailsweep.base.errors import InputError
from trailsweep.settings.attributes import LookupAttribute, validate_attributes
from trailsweep.settings.filters import PathsSeen, Plan, Where, parse_where, plan_filters
from trailsweep.settings.limits import SWEEP
from trailsweep.settings.timeparse import format_time, parse_time, to_epoch

RETENTION = timedelta(days=90)
MAX_ATTRIBUTES = 50
_SLACK = timedelta(minutes=5)  # "90d" typed a moment ago is still within retention


@dataclass(frozen=True, slots=True)
class Query:
    start: datetime
    end: datetime
    attributes: tuple[LookupAttribute, ...] = ()
    insight: bool = False
    page_size: int = 50
    max_items: int | None = None
    where: tuple[Where, ...] = ()
    # lookup-events sends only the times the user gave, as the AWS CLI does (a NextToken is
    # bound to the exact StartTime/EndTime of the call that made it, absent ones included).
    send_start: bool = True
    send_end: bool = True
    # Which --where paths the records hold; a sweep attaches its own (sweep.sweep_chunks).
    seen: PathsSeen | None = field(default=None, compare=False, repr=False)

    @property
    def plan(self) -> Plan:
        """Which attribute goes to the API (one chain per value) and what the client checks."""
        return plan_filters(self.attributes, self.where, self.seen)

    def api_params(self, attribute: LookupAttribute | None = None) -> dict[str, Any]:
        """LookupEvents parameters (without NextToken) for every call of one chain."""
        params: dict[str, Any] = {"MaxResults": self.page_size}
        if self.send_start:
            params["StartTime"] = to_epoch(self.start)
        if self.send_end:
            params["EndTime"] = to_epoch(self.end)
        if attribute is not None:
            params["LookupAttributes"] = [attribute.to_api()]
        if self.insight:
            params["EventCategory"] = "insight"
        return params

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (for checkpoints and summaries)."""
        return {
            "start": format_time(self.start),
            "end": format_time(self.end),
            "attributes": [a.to_api() for a in self.attributes],
            "insight": self.insight,
            "page_size": self.page_size,
            "max_items": self.max_items,
            "where": [w.text for w in self.where],
        }

    @classmethod
    def from_describe(cls, d: dict[str, Any]) -> Query:
        """The query `describe()` wrote (a checkpoint's pinned query)."""
        return cls(
            start=parse_time(d["start"], now=datetime.now(UTC)),
            end=parse_time(d["end"], now=datetime.now(UTC)),
            attributes=tuple(LookupAttribute.from_api(a) for a in d["attributes"]),
            insight=bool(d["insight"]),
            page_size=int(d["page_size"]),
            max_items=None if d["max_items"] is None else int(d["max_items"]),
            where=tuple(parse_where(w) for w in d.get("where") or ()),
        )


@dataclass(slots=True)
class QueryInput:
    """What the user asked for, still as typed."""

    lookup_attributes: list[LookupAttribute] = field(default_factory=list)
    start_time: str | None = None
    end_time: str | None = None
    event_category: str | None = None
    page_size: int | None = None
    max_items: int | None = None
    where: list[str] = field(default_factory=list)


def build_query(raw: QueryInput, *, now: datetime) -> Query:
    """Validate and pin the query; raises InputError with one line naming the fix."""
    page_size = 50 if raw.page_size is None else raw.page_size
    too_big = isinstance(page_size, int) and page_size > 50
    SWEEP["--page-size"].check(
        "--page-size", page_size, code="InvalidMaxResultsException" if too_big else None
    )
    if raw.max_items is not None:
        SWEEP["--max-items"].check("--max-items", raw.max_items)
    category = raw.event_category
    if category is not None and category != "insight":
        raise InputError(
            f"--event-category: {category!r} is not valid; the only value is 'insight' "
            "(leave it out for management events)",
            code="InvalidEventCategoryException",
        )
    insight = category == "insight"
    validate_attributes(raw.lookup_attributes, insight=insight, max_items=None)
    if len(raw.lookup_attributes) > MAX_ATTRIBUTES:
        raise InputError(
            f"--lookup-attributes: {len(raw.lookup_attributes)} given, at most "
            f"{MAX_ATTRIBUTES} (each value of the key sent to the API is its own chain of "
            "calls); split the question into several runs"
        )
    where = tuple(parse_where(w) for w in raw.where)
    start, end = _window(raw.start_time, raw.end_time, now=now)
    return Query(
        start=start,
        end=end,
        attributes=tuple(raw.lookup_attributes),
        insight=insight,
        page_size=page_size,
        max_items=raw.max_items,
        where=where,
    )


def _window(
    start_time: str | None, end_time: str | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """The pinned window: EndTime at most `now`, StartTime 90 days before it by default,
    neither older than CloudTrail keeps (within `_SLACK`); start cut to retention."""
    now = now.replace(microsecond=0)
    end = parse_time(end_time, now=now, option="--end-time") if end_time else now
    end = min(end, now)
    if end < now - RETENTION - _SLACK:
        # Said of --end-time itself: without a --start-time, the default start (90 days
        # before the end) would otherwise be blamed, or fall off the calendar (year 1).
        raise InputError(
            f"--end-time {format_time(end)} is more than 90 days ago; CloudTrail keeps 90 "
            f"days of events, so end at {format_time(now - RETENTION)} or later",
            code="InvalidTimeRangeException",
        )
    if start_time:
        start = parse_time(start_time, now=now, option="--start-time")
    else:
        start = end - RETENTION
    oldest = now - RETENTION
    if start > end:
        raise InputError(
            f"--start-time {format_time(start)} is after --end-time {format_time(end)}; "
            "give a start before the end",
            code="InvalidTimeRangeException",
        )
    if start < oldest - _SLACK:
        raise InputError(
            f"--start-time {format_time(start)} is more than 90 days ago; CloudTrail keeps "
            f"90 days of events, so start at {format_time(oldest)} or later (e.g. 90d)",
            code="InvalidTimeRangeException",
        )
    return max(start, oldest), end


def attributes_from_items(items: Sequence[Any]) -> list[LookupAttribute]:
    """Attributes from a config or --cli-input-json list of {AttributeKey, AttributeValue}."""
    return [LookupAttribute.from_api(item) for item in items]
