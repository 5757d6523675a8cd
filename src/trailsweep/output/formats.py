"""How `lookup-events` prints its result: --output, --query and the timestamp format,
resolved and applied as the AWS CLI does.

Resolution (the CLI's): `--output` flag, else `AWS_DEFAULT_OUTPUT`, else `output` in the
profile's section of the AWS config file, else json. `cli_timestamp_format` comes from
the profile's section only: `none` or `wire` (the default: EventTime as the API sends it,
epoch seconds, as the AWS CLI v1 prints it) or `iso8601` (`2026-11-30T23:00:00+00:00`, the
AWS CLI v2 default and v1's when configured). We keep v1's default because trailsweep's
document has always been v1's, byte for byte, and scripts parse it.

Applied as the CLI applies them: timestamps first, then --query (JMESPath), then the
format. json, yaml and table take the whole result after pagination (`Events` merged,
and the CLI's `NextToken` when --max-items stopped early); text and yaml-stream take it
page by page as the API served them, --query applied to each page (so `--query
'Events[].EventName' --output text` prints one line per page, as the CLI does), text then
prints `NEXTTOKEN<TAB>token` (through the query too) and yaml-stream keeps each page's raw
API NextToken. With --no-paginate / --next-token the single response is the result.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jmespath
import jmespath.exceptions
from botocore.exceptions import BotoCoreError
from botocore.session import Session

from trailsweep.base.errors import InputError
from trailsweep.engine.single_pair import PrintedPage
from trailsweep.output.tableformat import format_table
from trailsweep.output.textformat import format_text
from trailsweep.output.yamlformat import dump_yaml, dump_yaml_stream_item

FORMATS = ("json", "text", "table", "yaml", "yaml-stream")
TIMESTAMP_FORMATS = ("none", "wire", "iso8601")
TABLE_TITLE = "LookupEvents"  # the operation name heads the CLI's table


@dataclass(frozen=True, slots=True)
class OutputSpec:
    format: str = "json"
    query: Any = field(default=None)  # a compiled JMESPath expression, or None
    timestamps: str = "wire"  # wire (also spelt none) | iso8601

    @property
    def streams_document(self) -> bool:
        """True when the document is trailsweep's streamed JSON as is (no re-rendering)."""
        return self.format == "json" and self.query is None and self.timestamps != "iso8601"


def compile_query(text: str) -> Any:
    """The compiled --query; InputError (one line) when JMESPath cannot parse it."""
    try:
        return jmespath.compile(text)
    except jmespath.exceptions.JMESPathError as err:
        reason = " ".join(str(err).split("\n")[0].split())
        raise InputError(
            f"--query: {text!r} is not a valid JMESPath expression ({reason}); "
            "see https://jmespath.org"
        ) from None


def _profile_config(profile: str | None) -> dict[str, Any]:
    """The profile's section of the AWS config file (AWS_CONFIG_FILE or ~/.aws/config;
    profile from --profile, AWS_DEFAULT_PROFILE, AWS_PROFILE), as botocore reads it. A
    profile that is not there has no settings here; the credential step reports it."""
    try:
        session = Session(profile=profile)
        config: dict[str, Any] = session.get_scoped_config()
    except BotoCoreError:  # ProfileNotFound, an unreadable config file
        return {}
    return config


def resolve_output(flag: str | None, query: str | None, profile: str | None) -> OutputSpec:
    """Everything about printing, checked before any call."""
    config = _profile_config(profile)
    if flag is not None:
        fmt, source = flag, "--output"
    elif os.environ.get("AWS_DEFAULT_OUTPUT"):
        fmt, source = os.environ["AWS_DEFAULT_OUTPUT"], "AWS_DEFAULT_OUTPUT"
    elif config.get("output"):
        fmt, source = str(config["output"]), "output in the AWS config file"
    else:
        fmt, source = "json", ""
    if fmt not in FORMATS:
        raise InputError(
            f"{source}: {fmt!r} is not an output format; use one of {', '.join(FORMATS)}"
        )
    stamps = str(config.get("cli_timestamp_format") or "wire")
    if stamps not in TIMESTAMP_FORMATS:
        raise InputError(
            f"cli_timestamp_format in the AWS config file: {stamps!r} is not valid; use "
            "none (epoch seconds, the AWS CLI v1 default), wire (the same) or iso8601"
        )
    return OutputSpec(
        format=fmt,
        query=compile_query(query) if query is not None else None,
        timestamps="iso8601" if stamps == "iso8601" else "wire",
    )


# rendering ------------------------------------------------------------------------------
def _iso(value: object) -> object:
    """An epoch EventTime as botocore's parser + isoformat() shows it (v2, iso8601)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return value


def _stamped(events: list[dict[str, Any]], spec: OutputSpec) -> list[dict[str, Any]]:
    if spec.timestamps != "iso8601":
        return events
    return [dict(e, EventTime=_iso(e["EventTime"])) if "EventTime" in e else e for e in events]


def _search(spec: OutputSpec, value: Any) -> Any:
    if spec.query is None:
        return value
    try:
        return spec.query.search(value)
    except jmespath.exceptions.JMESPathError as err:  # e.g. a function given the wrong type
        reason = " ".join(str(err).split())
        raise InputError(f"--query: {reason}") from None


def _json(value: Any) -> str:
    return "" if value == {} else json.dumps(value, indent=4, ensure_ascii=False) + "\n"


def _drawn(spec: OutputSpec, value: Any) -> str:
    """text or table of one value. Both fail where the CLI's fail (ragged rows, a list of
    dicts and scalars): one line instead of the CLI's traceback, nothing printed."""
    try:
        if spec.format == "text":
            return format_text(value)
        return format_table(TABLE_TITLE, value)
    except (ValueError, IndexError, TypeError, AttributeError) as err:
        raise InputError(
            f"--output {spec.format} cannot show this --query result ({err}); use --output json"
        ) from None


def _whole(spec: OutputSpec, value: Any) -> str:
    """The formats that print the whole result at once."""
    if spec.format == "json":
        return _json(value)
    if spec.format == "yaml":
        return "" if value == {} else dump_yaml(value)
    return _drawn(spec, value)


def render(
    document: dict[str, Any], pages: list[PrintedPage], *, paginated: bool, spec: OutputSpec
) -> bytes:
    """The printed output for `document` ({"Events": [...], "NextToken"?: ...}, as
    lookup-events writes it), given the pages its events came in."""
    events = _stamped(document.get("Events") or [], spec)
    whole = dict(document, Events=events)
    if not paginated:  # one response: every format takes it whole
        if spec.format == "yaml-stream":
            return dump_yaml_stream_item(_search(spec, whole)).encode()
        return _whole(spec, _search(spec, whole)).encode()
    if spec.format not in ("text", "yaml-stream"):
        return _whole(spec, _search(spec, whole)).encode()
    out: list[str] = []
    start = 0
    for page in pages:
        part: dict[str, Any] = {"Events": events[start : start + page.count]}
        start += page.count
        if spec.format == "text":
            out.append(_drawn(spec, _search(spec, part)))
        else:
            if page.next_token is not None:
                part["NextToken"] = page.next_token
            out.append(dump_yaml_stream_item(_search(spec, part)))
    if spec.format == "text" and document.get("NextToken") is not None:
        last = {"NextToken": {"NextToken": document["NextToken"]}}
        out.append(_drawn(spec, _search(spec, last)))
    return "".join(out).encode()
