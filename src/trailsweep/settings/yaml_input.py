"""`--generate-cli-skeleton yaml-input` and `--cli-input-yaml`, as the AWS CLI v2 has them.

The skeleton is what v2 prints for `aws cloudtrail lookup-events --generate-cli-skeleton
yaml-input`: the input skeleton's keys in the API model's order, placeholder values
(the first enum value where v2 picks one at random), and after each key a comment made of
`[REQUIRED]` when the model requires it, the first sentence of the member's documentation
and `Valid values are: ...` for enums (awscli/customizations/generatecliskeleton.py
YAMLArgumentGenerator, dumped by ruamel.yaml, whose comment columns these are).

`--cli-input-yaml` (inline or file://path) is read as v2 reads it, with ruamel.yaml's safe
loader, then checked exactly as --cli-input-json is (same keys, same types, flags override
it). YAML's own types are taken where the API would take them: a timestamp
(`2026-11-01 10:00:00`, naive means UTC) or a date for StartTime/EndTime.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from trailsweep.base.errors import InputError
from trailsweep.settings.checks import read_text_file
from trailsweep.settings.cli_input import options_from_input
from trailsweep.settings.options import Options

SOURCE = "--cli-input-yaml"

YAML_INPUT_SKELETON = """\
LookupAttributes:  # Contains a list of lookup attributes.
- AttributeKey: EventId  # [REQUIRED] Specifies an attribute on which to filter the events \
returned. Valid values are: EventId, EventName, ReadOnly, Username, ResourceType, \
ResourceName, EventSource, AccessKeyId.
  AttributeValue: '' # [REQUIRED] Specifies a value for the specified AttributeKey.
StartTime: 1970-01-01 00:00:00 # Specifies that only events that occur after or at the \
specified time are returned.
EndTime: 1970-01-01 00:00:00 # Specifies that only events that occur before or at the \
specified time are returned.
EventCategory: insight # Specifies the event category. Valid values are: insight.
MaxResults: 0 # The number of events to return.
NextToken: '' # The token to use to get the next page of results after a previous API call.
"""


def _read(text: str) -> str:
    if text.startswith("file://"):  # bounded, regular files only, as --cli-input-json
        return read_text_file(text[7:], SOURCE)
    return text


def _problem(err: YAMLError) -> str:
    if isinstance(err, MarkedYAMLError) and err.problem:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return f"{err.problem}{where}"
    return " ".join(str(err).split())


def _as_time(value: Any) -> Any:
    """YAML timestamps and dates as the ISO text the time parser reads (naive = UTC)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def load_cli_input_yaml(text: str, *, allow_token: bool) -> tuple[Options, str | None]:
    """Options and NextToken from --cli-input-yaml; InputError (one line) if the YAML is
    bad or a value has the wrong type."""
    try:
        doc = YAML(typ="safe", pure=True).load(_read(text))
    except YAMLError as err:
        raise InputError(
            f"{SOURCE}: not valid YAML ({_problem(err)}); see --generate-cli-skeleton yaml-input"
        ) from None
    if not isinstance(doc, dict):
        raise InputError(
            f"{SOURCE}: expected a mapping of parameters, got {type(doc).__name__}; see "
            "--generate-cli-skeleton yaml-input"
        )
    if any(not isinstance(key, str) for key in doc):
        raise InputError(f"{SOURCE}: every key must be a parameter name such as StartTime")
    for key in ("StartTime", "EndTime"):
        if key in doc:
            doc[key] = _as_time(doc[key])
    return options_from_input(doc, SOURCE, allow_token=allow_token)
