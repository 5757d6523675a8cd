"""The options of `trailsweep lookup-events` (those it shares with sweep: options.py), and
`LookupFlags`, what the command was given.

Each option is a type (`LookupStartTime`) the command's signature names; the command
passes its parameters on whole as `LookupFlags`, so the code that runs it (lookup.py)
reads them as one typed value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from trailsweep.api.lookup import FORMATS

LookupStartTime = Annotated[
    str | None,
    typer.Option(
        help="Oldest event (inclusive): ISO 8601, a date or epoch seconds (UTC), or an "
        "age such as 7d. Default: the API's (90 days back)."
    ),
]

LookupEndTime = Annotated[
    str | None,
    typer.Option(help="Newest event (inclusive), same forms. Default: the API's (now)."),
]

LookupMaxItems = Annotated[
    int | None,
    typer.Option(
        help="Print at most this many events (1..2**53-1), then a NextToken to pass "
        "to --starting-token (the AWS CLI's token; the CLI takes ours too)."
    ),
]

LookupPageSize = Annotated[
    int | None, typer.Option(help="Events per call (MaxResults), 1..50. Default 50.")
]

LookupStartingToken = Annotated[
    str | None, typer.Option(help="Continue from a NextToken a --max-items run printed.")
]

LookupNextToken = Annotated[
    str | None,
    typer.Option(
        help="Make one call with this raw API NextToken and print the raw response "
        "(no pagination, as the AWS CLI)."
    ),
]

LookupMaxResults = Annotated[
    int | None,
    typer.Option(help="MaxResults of a single call (implies --no-paginate).", hidden=True),
]

LookupPaginate = Annotated[
    bool,
    typer.Option(
        "--paginate/--no-paginate",
        help="--no-paginate: make one call and print its raw NextToken.",
    ),
]

LookupCliInputJson = Annotated[
    str | None,
    typer.Option(
        help="Parameters as JSON, inline or file://path (flags override it); see "
        "--generate-cli-skeleton input. NextToken there is a raw API token to start from."
    ),
]

LookupCliInputYaml = Annotated[
    str | None,
    typer.Option(
        help="Parameters as YAML, inline or file://path (flags override it); see "
        "--generate-cli-skeleton yaml-input. Not with --cli-input-json."
    ),
]

LookupGenerateCliSkeleton = Annotated[
    str | None,
    typer.Option(
        help="Print the input (default) or output JSON skeleton, or the yaml-input "
        "skeleton, and exit."
    ),
]

LookupRegion = Annotated[
    str | None, typer.Option(help="Region to ask. Default: AWS_REGION / the profile's.")
]

LookupProfile = Annotated[str | None, typer.Option(help="AWS profile for credentials.")]

LookupEndpointUrl = Annotated[
    str | None,
    typer.Option(help="Send the calls here (e.g. the emulator). AWS_ENDPOINT_URL works too."),
]

LookupOutput = Annotated[
    str | None,
    typer.Option(
        "--output",
        help=f"Output format: {', '.join(FORMATS)}. Default: AWS_DEFAULT_OUTPUT, then "
        "`output` in the profile's AWS config, then json. EventTime is epoch seconds "
        "unless the profile sets cli_timestamp_format = iso8601.",
        show_default=False,
    ),
]

LookupQueryText = Annotated[
    str | None,
    typer.Option(
        "--query",
        help="JMESPath expression applied to the result, as the AWS CLI applies it "
        "(after pagination; page by page for text and yaml-stream).",
    ),
]

LookupVerbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log every call on stderr.")]


@dataclass(frozen=True, slots=True)
class LookupFlags:
    """Every parameter of `trailsweep lookup-events`, as typer passed it (None: not given)."""

    lookup_attributes: list[str] | None
    where: list[str] | None
    start_time: str | None
    end_time: str | None
    event_category: str | None
    max_items: int | None
    page_size: int | None
    starting_token: str | None
    next_token: str | None
    max_results: int | None
    paginate: bool
    cli_input_json: str | None
    cli_input_yaml: str | None
    generate_cli_skeleton: str | None
    region: str | None
    profile: str | None
    endpoint_url: str | None
    output: str | None
    query_text: str | None
    verbose: bool
    quiet: bool
    log_format: str
