"""NDJSON lines: docs/design.md's key order, omitted fields left out, --raw."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from trailsweep.engine.pair import PageRef, PairState, SweepEvent
from trailsweep.engine.record import ndjson_line, ndjson_lines

from support import expected_line

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
    assert line == expected_line("111111111111", "us-east-1", EVENT)


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


_records = st.one_of(
    st.none(),
    st.just(EVENT["CloudTrailEvent"]),
    st.just('{"a": 1,\n "b": [1, 2]}'),  # not compact: parsed and re-serialized
    st.just('  {"a":"x\\r"}  '),
    st.builds(
        lambda d: orjson.dumps(d).decode(),
        st.dictionaries(st.text(), st.integers(-(2**63), 2**63 - 1)),
    ),
)


@given(
    events=st.lists(
        st.fixed_dictionaries(
            {"EventTime": st.one_of(st.none(), st.integers(0, 4_000_000_000))},
            optional={
                k: st.one_of(st.none(), st.text(max_size=8))
                for k in ORDER[3:-2]
                if k != "EventTime"
            }
            | {"Resources": st.lists(st.fixed_dictionaries({"ResourceName": st.text()}))},
        ).flatmap(
            lambda e: _records.map(
                lambda r: {**e, "CloudTrailEvent": r} if r is not None else dict(e)
            )
        ),
        max_size=5,
    ),
    raw=st.booleans(),
)
def test_ndjson_line_and_lines_give_the_stated_bytes(
    events: list[dict[str, object]], raw: bool
) -> None:
    """ndjson_line on each event, and the batch writer on all, give exactly the bytes of
    the format as support.expected_line states it."""
    pair = PairState("111111111111", "eu-west-1")
    page = PageRef(None, None)
    sweep_events = [SweepEvent((0, "", "", i), pair, e, page, i) for i, e in enumerate(events)]
    expected = [expected_line(pair.account, pair.region, e, raw=raw) for e in events]
    assert [ndjson_line(pair.account, pair.region, e, raw=raw) for e in events] == expected
    assert ndjson_lines(sweep_events, raw=raw) == b"".join(expected)
