"""One event, one NDJSON line, in the key order DESIGN.md fixes.

    account, region, EventTime (ISO 8601 UTC, Z), EventId, EventName, EventSource,
    Username, AccessKeyId, ReadOnly, Resources, CloudTrailEvent

`CloudTrailEvent` is the parsed record by default, or the API's string with `raw=True`.
Fields the API left out are left out here too (never null).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

_FIELDS = (
    "EventId",
    "EventName",
    "EventSource",
    "Username",
    "AccessKeyId",
    "ReadOnly",
    "Resources",
)


def iso_utc(epoch: float) -> str:
    """EventTime as ISO 8601 UTC with Z; LookupEvents times are whole seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


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
    if record is not None:
        out["CloudTrailEvent"] = record if raw else orjson.loads(record)
    return orjson.dumps(out, option=orjson.OPT_APPEND_NEWLINE)
