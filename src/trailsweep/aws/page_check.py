"""What a LookupEvents answer must be before any of it is used: one place, called from the
pager (every path: one chain, OR chains, time slices, `lookup-events`; lean or aioboto3).

A server, or a proxy in front of it, that lies must fail its (account, region) pair with one
line (`PairFailed`, code `InvalidResponse`, exit 1), never spin, loop forever, fill memory or
write a line it should not. Refused:

- a body that is not JSON, or not an object with an `Events` list; a NextToken that is not
  a string; a body over `body_cap.MAX_BODY` (checked while reading, see body_cap.py);
- more events than the MaxResults asked for;
- an event that is not an object, has no string EventId, or no number EventTime;
- an EventTime outside the StartTime..EndTime sent (both inclusive). Failing, rather than
  dropping them with a warning: such a server ignores the window, so nothing it says about
  the window can be trusted, and with time slices an event outside one slice lies inside
  another, where it would be written twice;
- an event newer than the one before it, within a page or across pages (LookupEvents is
  newest first; the merge and the checkpoint rely on it);
- a CloudTrailEvent that is not a string holding exactly one JSON object: record.py splices
  its text into our line unparsed, so '{"a":1},"injected":"x"' would add a field;
- the NextToken the page was asked with handed back (botocore's paginator refuses it too:
  "The same next token was received twice"), and `MAX_IDLE_PAGES` pages in a row that bring
  no new event (endless distinct tokens on empty pages).

An EventId served twice at the same second (a page boundary served again) is written once:
dropped, not failed, since the data stays right. Only the EventIds of the current second are
remembered (memory must not grow with the events, docs/design.md invariant 4); in a newest-first
chain a repeat can only come at the current second without breaking the order check.

Not retried: a server that answers 200 with a broken page will most likely answer it again,
and every retry spends the pair's quota.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import orjson

CODE = "InvalidResponse"
# Honest LookupEvents can page through empty results (it scans before it filters), but not
# for long: 1000 pages in a row that bring nothing new is 8 minutes of calls at the 2 calls/s
# quota, far past anything seen from CloudTrail, and bounds a server handing out tokens
# forever.
MAX_IDLE_PAGES = 1000
_MAX_EPOCH = 1 << 35  # the year 3058: a larger EventTime is garbage (and breaks iso_utc)
_DEFAULT_MAX_RESULTS = 50


class _AnyObject(msgspec.Struct):
    """Any JSON object: decoding a text into it checks the whole text's syntax (strict
    JSON: no NaN, no trailing data, no raw control characters in strings, no lone
    surrogates) and that it is one object, without building a Python object of any of it:
    0.9 us for a 1.1 kB record, where `orjson.loads` takes 3.8 us. One difference: a number
    too large for a double (`1e999`) is valid JSON and passes, where orjson refuses it;
    record.py splices the text in as it is, and JSON allows it."""


_is_object = msgspec.json.Decoder(_AnyObject).decode


def _one_object(record: object) -> bool:
    """Whether `record` is a string holding exactly one JSON object."""
    if type(record) is not str:
        return False
    try:
        _is_object(record)
    except (msgspec.MsgspecError, RecursionError, UnicodeError):  # too deep; a lone surrogate
        return False
    return True


class InvalidResponse(Exception):
    """A LookupEvents answer that breaks the API's contract; the pager fails its pair."""


def parse_body(body: bytes) -> Any:
    """The JSON document of a response body (of any shape; `check_page` says if it is a
    page)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        start = body[:40].decode("utf-8", "replace")
        raise InvalidResponse(
            f"the response body is not JSON ({len(body)} bytes starting {start!r})"
        ) from None


def _describe(value: Any) -> str:
    """A short JSON view of a value out of a page, for the one-line reason."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def check_page(page: Any, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events of `page` (a parsed LookupEvents body) asked for with `params`, once every
    rule above that one page can break is checked; raises InvalidResponse."""
    if not isinstance(page, dict):
        raise InvalidResponse(f"the response is not a JSON object but {_describe(page)}")
    events = page.get("Events")
    if not isinstance(events, list):
        raise InvalidResponse(f"the response has no Events list (Events: {_describe(events)})")
    token = page.get("NextToken")
    if token is not None and not isinstance(token, str):
        raise InvalidResponse(f"NextToken is not a string but {_describe(token)}")
    asked = params.get("MaxResults", _DEFAULT_MAX_RESULTS)
    if len(events) > asked:
        raise InvalidResponse(f"{len(events)} events in a page asked for at most {asked}")
    start = params.get("StartTime", 0)
    end = params.get("EndTime", _MAX_EPOCH)
    before = end
    one_object = _one_object
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            raise InvalidResponse(f"event {i} of the page is not an object")
        event_id = event.get("EventId")
        if not isinstance(event_id, str) or not event_id:
            raise InvalidResponse(f"event {i} of the page has no EventId")
        when = event.get("EventTime")
        if type(when) is not int and type(when) is not float:
            raise InvalidResponse(f"event {event_id}: EventTime is not a number")
        if not start <= when <= end:
            raise InvalidResponse(
                f"event {event_id}: EventTime {when} is outside the window asked for "
                f"({start}..{end})"
            )
        if when > before:
            raise InvalidResponse(
                f"event {event_id}: EventTime {when} is newer than the event before it "
                f"({before}); LookupEvents answers newest first"
            )
        before = when
        record = event.get("CloudTrailEvent")
        if record is not None and not one_object(record):
            raise InvalidResponse(
                f"event {event_id}: CloudTrailEvent is not a JSON object in a string"
            )
    return events


class ChainCheck:
    """The rules a NextToken chain breaks across its pages: newest first from page to page,
    no token handed back as is, no endless pages without news; and which events repeat
    one already served at the same second (to drop)."""

    __slots__ = ("idle", "ids", "second")

    def __init__(self, second: int | None = None, ids: Iterable[str] = ()) -> None:
        # `second`, `ids`: the oldest second served so far and the EventIds served at it
        # (from a cursor, on a resume).
        self.second = second
        self.ids = set(ids)
        self.idle = 0

    def repeats(
        self, events: list[dict[str, Any]], token: str | None, next_token: str | None
    ) -> set[int] | None:
        """The indexes of `events` (a page `check_page` passed, asked with `token`) that
        repeat an event already served; raises InvalidResponse."""
        if next_token and next_token == token:
            raise InvalidResponse(
                "the same NextToken was received twice (the server hands back the token "
                "it was asked with)"
            )
        second, ids = self.second, self.ids
        repeated: set[int] | None = None
        for i, event in enumerate(events):
            when = int(event["EventTime"])
            event_id = event["EventId"]
            if when != second:
                if second is not None and when > second:
                    raise InvalidResponse(
                        f"event {event_id}: EventTime {when} is newer than the page before "
                        f"ended ({second}); LookupEvents answers newest first"
                    )
                second, ids = when, set()
            elif event_id in ids:
                if repeated is None:
                    repeated = set()
                repeated.add(i)
                continue
            ids.add(event_id)
        self.second, self.ids = second, ids
        fresh = len(events) - (len(repeated) if repeated else 0)
        self.idle = 0 if fresh else self.idle + 1
        if next_token and self.idle >= MAX_IDLE_PAGES:
            raise InvalidResponse(
                f"{self.idle} pages in a row brought no new event and the server still "
                "hands out NextTokens"
            )
        return repeated
