"""One event, one NDJSON line, in the key order docs/design.md fixes.

    account, region, EventTime (ISO 8601 UTC, Z), EventId, EventName, EventSource,
    Username, AccessKeyId, ReadOnly, Resources, CloudTrailEvent

`CloudTrailEvent` is the parsed record by default, or the API's string with `raw=True`.
Fields the API left out are left out here too (never null).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol

import orjson


class _Where(Protocol):
    @property
    def account(self) -> str: ...
    @property
    def region(self) -> str: ...


class Located(Protocol):
    """What `ndjson_lines` reads of an event: its pair's account and region, and the
    LookupEvents event itself (`pair.SweepEvent` is one)."""

    @property
    def pair(self) -> _Where: ...
    @property
    def event(self) -> dict[str, Any]: ...


_FIELDS = (
    "EventId",
    "EventName",
    "EventSource",
    "Username",
    "AccessKeyId",
    "ReadOnly",
    "Resources",
)


@lru_cache(maxsize=4096)
def _hour(hour: int) -> str:
    return time.strftime("%Y-%m-%dT%H:", time.gmtime(hour * 3600))


_MINUTE_SECOND = tuple(f"{r // 60:02d}:{r % 60:02d}Z" for r in range(3600))


def iso_utc(epoch: float) -> str:
    """EventTime as ISO 8601 UTC with Z; LookupEvents times are whole seconds."""
    seconds = int(epoch)
    return _hour(seconds // 3600) + _MINUTE_SECOND[seconds % 3600]


def ndjson_line(account: str, region: str, event: dict[str, Any], *, raw: bool = False) -> bytes:
    """The NDJSON line (with its newline) for one LookupEvents event."""
    out: dict[str, Any] = {"account": account, "region": region}
    when = event.get("EventTime")
    if when is not None:
        out["EventTime"] = iso_utc(when)
    for name in _FIELDS:
        value = event.get(name)
        if value is not None:
            out[name] = value
    record = event.get("CloudTrailEvent")
    if record is None:
        return orjson.dumps(out, option=orjson.OPT_APPEND_NEWLINE)
    if raw:
        out["CloudTrailEvent"] = record
        return orjson.dumps(out, option=orjson.OPT_APPEND_NEWLINE)
    text: bytes = record.encode()
    if text[:1] == b"{" and text[-1:] == b"}" and b"\n" not in text and b"\r" not in text:
        # CloudTrail's record is compact JSON already: splice its text in rather than
        # parse and re-serialize it (half of the client's CPU per event).
        return orjson.dumps(out)[:-1] + b',"CloudTrailEvent":' + text + b"}\n"
    out["CloudTrailEvent"] = orjson.loads(record)
    return orjson.dumps(out, option=orjson.OPT_APPEND_NEWLINE)


def ndjson_lines(events: Iterable[Located], *, raw: bool = False) -> bytes:
    """The NDJSON lines of `events`, joined: the same bytes as `ndjson_line` on each one,
    for about 40% less CPU: a compact record goes in as an `orjson.Fragment` (copied once,
    by orjson, instead of encoded, sliced and concatenated), one join per batch, and
    names looked up once per batch instead of once per event."""
    parts: list[bytes] = []
    append = parts.append
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    fragment = orjson.Fragment
    fields = _FIELDS
    hour = _hour
    minute_second = _MINUTE_SECOND
    for ev in events:
        pair = ev.pair
        event = ev.event
        get = event.get
        out: dict[str, Any] = {"account": pair.account, "region": pair.region}
        when = get("EventTime")
        if when is not None:
            seconds = int(when)
            out["EventTime"] = hour(seconds // 3600) + minute_second[seconds % 3600]
        for name in fields:
            value = get(name)
            if value is not None:
                out[name] = value
        record = get("CloudTrailEvent")
        if record is not None:
            if raw:
                out["CloudTrailEvent"] = record
            elif (
                record[:1] == "{"
                and record[-1:] == "}"
                and "\n" not in record
                and "\r" not in record
            ):  # compact already: its text as it is (what ndjson_line splices in)
                out["CloudTrailEvent"] = fragment(record)
            else:
                out["CloudTrailEvent"] = orjson.loads(record)
        append(dumps(out, option=newline))
    return b"".join(parts)
