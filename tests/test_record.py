"""NDJSON lines: DESIGN.md's key order, omitted fields left out, --raw."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from trailsweep.record import ndjson_line

EVENT = {
    "EventId": "e1", "EventName": "ConsoleLogin", "ReadOnly": "false", "AccessKeyId": "AKIA1",
    "EventTime": 1793491200, "EventSource": "signin.amazonaws.com", "Username": "alice",
    "Resources": [], "CloudTrailEvent": '{"eventVersion":"1.09","eventID":"e1"}',
}  # fmt: skip
ORDER = ["account", "region", "EventTime", "EventId", "EventName", "EventSource", "Username",
         "AccessKeyId", "ReadOnly", "Resources", "CloudTrailEvent"]  # fmt: skip


def test_key_order_and_values() -> None:
    """Keys in the documented order; EventTime in ISO 8601 UTC; the record parsed."""
    line = ndjson_line("111111111111", "us-east-1", EVENT)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    doc = orjson.loads(line)
    assert list(doc) == ORDER
    assert doc["EventTime"] == "2026-11-01T00:00:00Z"
    assert doc["CloudTrailEvent"] == {"eventVersion": "1.09", "eventID": "e1"}


def test_raw_keeps_the_string() -> None:
    """--raw keeps CloudTrailEvent exactly as the API returned it."""
    doc = orjson.loads(ndjson_line("1", "r", EVENT, raw=True))
    assert doc["CloudTrailEvent"] == EVENT["CloudTrailEvent"]


@given(st.sets(st.sampled_from(["AccessKeyId", "Username", "ReadOnly", "Resources"])))
def test_missing_fields_are_omitted_not_null(missing: set[str]) -> None:
    """Whatever the API left out is left out; nothing is null."""
    event = {k: v for k, v in EVENT.items() if k not in missing}
    doc = orjson.loads(ndjson_line("1", "r", event))
    assert set(missing).isdisjoint(doc)
    assert None not in doc.values()
    assert list(doc) == [k for k in ORDER if k not in missing]
