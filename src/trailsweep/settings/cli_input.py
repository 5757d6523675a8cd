"""`--cli-input-json` and `--cli-input-yaml` documents: the AWS CLI's LookupEvents keys.

`lookup-events` takes the document's NextToken (a raw API one, as the AWS CLI does); a
sweep, which pages every pair itself, refuses it. The YAML reading is yaml_input.py's.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from trailsweep.base.errors import InputError
from trailsweep.settings.checks import read_text_file
from trailsweep.settings.options import Options
from trailsweep.settings.query import attributes_from_items


def cli_input_json(text: str) -> Options:
    """Options from `--cli-input-json` (inline JSON or file://path), the AWS CLI's keys."""
    return cli_input_json_with_token(text, allow_token=False)[0]


def cli_input_json_with_token(text: str, *, allow_token: bool) -> tuple[Options, str | None]:
    """Options and NextToken from `--cli-input-json`: lookup-events starts from the token
    (a raw API one, as the AWS CLI takes it); a sweep, which pages every pair itself,
    refuses it."""
    source = "--cli-input-json"
    if text.startswith("file://"):
        text = read_text_file(text[7:], source)
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise InputError(f"{source}: not valid JSON ({err}); see --generate-cli-skeleton") from None
    if not isinstance(doc, dict):
        raise InputError(f"{source}: expected a JSON object; see --generate-cli-skeleton")
    return options_from_input(doc, source, allow_token=allow_token)


def options_from_input(
    doc: dict[str, Any], source: str, *, allow_token: bool
) -> tuple[Options, str | None]:
    """Options and NextToken from a parsed --cli-input-json / --cli-input-yaml document
    (the AWS CLI's keys); `source` names the flag in messages."""
    allowed = {"LookupAttributes", "StartTime", "EndTime", "EventCategory", "MaxResults"}
    unknown = set(doc) - allowed - {"NextToken"}
    if unknown:
        raise InputError(f"{source}: unknown key {sorted(unknown)[0]!r}; known: {sorted(allowed)}")
    token = doc.get("NextToken") or None
    if token is not None and not allow_token:
        raise InputError(
            f"{source}: NextToken belongs to one account and region; a sweep pages itself"
        )
    if token is not None and not isinstance(token, str):
        raise InputError(f"{source}: NextToken must be a string")
    opts = Options()
    if doc.get("LookupAttributes"):
        attrs = doc["LookupAttributes"]
        if not isinstance(attrs, list):
            raise InputError(f"{source}: LookupAttributes must be a list")
        attributes_from_items(attrs)  # shape check now, for a clear message
        opts.lookup_attributes = [orjson.dumps(a).decode() for a in attrs]
    for key, name in (("StartTime", "start_time"), ("EndTime", "end_time")):
        if doc.get(key) is not None:
            if isinstance(doc[key], bool) or not isinstance(doc[key], str | int | float):
                raise InputError(f"{source}: {key} must be a time (ISO 8601 text or epoch seconds)")
            setattr(opts, name, str(doc[key]))
    if doc.get("EventCategory") is not None:
        if not isinstance(doc["EventCategory"], str):
            raise InputError(f"{source}: EventCategory must be a string (insight)")
        opts.event_category = doc["EventCategory"]
    if doc.get("MaxResults") is not None:
        if type(doc["MaxResults"]) is not int:
            raise InputError(f"{source}: MaxResults must be a whole number from 1 to 50")
        opts.page_size = doc["MaxResults"]
    return opts, token


# The flag each key of an input document stands for, as build_config's messages name it.
_INPUT_KEYS = {
    "page_size": ("--page-size", "MaxResults"), "start_time": ("--start-time", "StartTime"),
    "end_time": ("--end-time", "EndTime"), "event_category": ("--event-category", "EventCategory"),
    "lookup_attributes": ("--lookup-attributes", "LookupAttributes"),
}  # fmt: skip


def as_written(err: InputError, given: Options, flags: Options, source: str) -> InputError:
    """`err` (from build_config) naming what the user wrote: a value taken from the
    --cli-input-json/--cli-input-yaml document `given`, no flag overriding it, is named by
    its key there (`--cli-input-yaml MaxResults: 0 is outside 1..50`), not by the flag it
    stands for (`--page-size`), which the user never typed."""
    text = str(err)
    for name, (flag, key) in _INPUT_KEYS.items():
        if getattr(given, name) is not None and getattr(flags, name) is None:
            text = re.sub(rf"(?<![\w-]){flag}(?![\w-])", f"{source} {key}", text)
    return err if text == str(err) else type(err)(text, code=err.code)
