"""The options of `sweep` and `lookup-events`, each declared once, and the AWS CLI's skeletons.

An option both commands take with the same meaning is declared once (`WhereOption`);
where they say different things (a default that differs, `--max-items` printing a
NextToken in lookup-events) each has its own, prefixed `Sweep` or `Lookup`. `--quiet` and
`--log-format` are logs.py's.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from trailsweep.base.errors import InputError

LOOKUP_ATTRIBUTES_HELP = (
    "Filter on an attribute, as the AWS CLI takes it: "
    "AttributeKey=Username,AttributeValue=root or JSON "
    '\'[{"AttributeKey":"EventName","AttributeValue":"ConsoleLogin"}]\'. '
    "Keys: EventId EventName ReadOnly Username ResourceType ResourceName EventSource "
    "AccessKeyId. Repeat it: different keys AND, values of one key OR. The most selective "
    "key (in the order EventId AccessKeyId ResourceName Username EventName ResourceType "
    "EventSource ReadOnly) runs on the server, one chain of calls per value; the other keys "
    "are checked by trailsweep on each event."
)
WHERE_HELP = (
    "Keep events whose CloudTrail record matches, checked by trailsweep (not the "
    "server): PATH=VALUE, PATH!=VALUE, PATH~REGEX, PATH!~REGEX or 'PATH exists', PATH a "
    "dotted field such as userIdentity.type or requestParameters.bucketName. Repeat to "
    "AND. != and !~ also hold when the field is absent; exists means present and not null; "
    "null, true, false and numbers compare as JSON text (errorCode=null)."
)

LookupAttributesOption = Annotated[
    list[str] | None, typer.Option(help=LOOKUP_ATTRIBUTES_HELP, show_default=False)
]
WhereOption = Annotated[list[str] | None, typer.Option(help=WHERE_HELP)]
EventCategoryOption = Annotated[
    str | None, typer.Option(help="'insight' for Insights events instead of management.")
]

INPUT_SKELETON = {
    "LookupAttributes": [{"AttributeKey": "EventId", "AttributeValue": ""}],
    "StartTime": "1970-01-01T00:00:00",
    "EndTime": "1970-01-01T00:00:00",
    "EventCategory": "insight",
    "MaxResults": 0,
    "NextToken": "",
}
OUTPUT_SKELETON = {
    "Events": [
        {
            "EventId": "EventId",
            "EventName": "EventName",
            "ReadOnly": "ReadOnly",
            "AccessKeyId": "AccessKeyId",
            "EventTime": "1970-01-01T00:00:00",
            "EventSource": "EventSource",
            "Username": "Username",
            "Resources": [{"ResourceType": "ResourceType", "ResourceName": "ResourceName"}],
            "CloudTrailEvent": "CloudTrailEvent",
        }
    ],
    "NextToken": "NextToken",
}


def skeleton(kind: str) -> bytes:
    """The AWS CLI's --generate-cli-skeleton documents for lookup-events."""
    if kind not in ("input", "output"):
        raise InputError(f"--generate-cli-skeleton: {kind!r} is not valid; use input or output")
    doc = INPUT_SKELETON if kind == "input" else OUTPUT_SKELETON
    return json.dumps(doc, indent=4).encode() + b"\n"  # as the AWS CLI prints it
