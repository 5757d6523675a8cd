"""aws/page_check.py's test of a CloudTrailEvent, in this process: a string holding exactly
one JSON object passes; anything else fails the page with one line. The checker does not
build the record (msgspec); strict JSON is what orjson parses, so orjson is the reference
here, with the one documented difference: a number beyond a double's range is JSON."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailsweep.aws.page_check import InvalidResponse, _one_object, check_page

PARAMS = {"StartTime": 100, "EndTime": 200, "MaxResults": 50}


def page(record: object) -> dict[str, Any]:
    return {"Events": [{"EventId": "e-1", "EventTime": 150, "CloudTrailEvent": record}]}


@pytest.mark.parametrize(
    "record",
    ['{"eventVersion":"1.08","a":[1,{"b":null}]}', "{}", ' {"a":1} ', '{"a":"\\u0000"}'],
)
def test_one_object_in_a_string_passes(record: str) -> None:
    assert check_page(page(record), PARAMS)[0]["CloudTrailEvent"] == record


BAD = {
    "two objects": '{"a":1},{"b":2}',
    "spliced field": '{"a":1},"injected":"x"',
    "trailing data": '{"a":1}x',
    "unclosed": '{"a":1',
    "array": "[1, 2]",
    "number": "42",
    "string": '"x"',
    "empty": "",
    "raw control character": '{"a":"x\x01"}',
    "raw newline in a string": '{"a":"x\ny"}',
    "NaN": '{"a":NaN}',
    "bad escape": '{"a":"\\q"}',
    "lone surrogate escape": '{"a":"\\ud800"}',
    "leading zero": '{"a":01}',
    "trailing comma": '{"a":1,}',
    "byte order mark": "\ufeff{}",
    "nested too deep": '{"a":' + "[" * 100_000 + "]" * 100_000 + "}",
    "not a string": {"a": 1},
}


@pytest.mark.parametrize("record", list(BAD.values()), ids=list(BAD))
def test_anything_else_fails_the_page(record: object) -> None:
    with pytest.raises(InvalidResponse, match="e-1: CloudTrailEvent is not a JSON object"):
        check_page(page(record), PARAMS)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(1 << 63), (1 << 64) - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def _texts(draw: st.DrawFn) -> str:
    """A JSON document's text, sometimes broken: a character inserted, deleted or replaced."""
    text = orjson.dumps(draw(_json)).decode()
    if draw(st.booleans()) and text:
        i = draw(st.integers(0, len(text) - 1))
        glyph = draw(st.sampled_from([*'{}[]",:0e-\\ \x00\n', "\ud800", "1e999"]))
        text = draw(
            st.sampled_from([text[:i] + glyph + text[i:], text[:i] + text[i + 1 :],
                             text[:i] + glyph + text[i + 1 :]])
        )  # fmt: skip
    return text


@settings(max_examples=400, deadline=None)
@given(_texts())
def test_the_checker_agrees_with_a_strict_parser(text: str) -> None:
    try:
        strict = type(orjson.loads(text)) is dict
    except orjson.JSONDecodeError as error:
        if "infinity when parsed as double" in str(error):
            return  # JSON, though orjson cannot hold it: see _AnyObject
        strict = False
    assert _one_object(text) == strict
