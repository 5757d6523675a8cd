"""`trailsweep lookup-events`: `aws cloudtrail lookup-events`, same flags and document."""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from datetime import UTC, datetime

import anyio

from trailsweep.api.lookup import (
    Lookup,
    OutputSpec,
    PrintedPage,
    render,
    resolve_output,
    run_lookup,
)
from trailsweep.api.preflight import check_reachable
from trailsweep.base.errors import InputError
from trailsweep.cli.logs import LogFormatOption, LogSettings, QuietOption
from trailsweep.cli.lookup_options import (
    LookupCliInputJson,
    LookupCliInputYaml,
    LookupEndpointUrl,
    LookupEndTime,
    LookupFlags,
    LookupGenerateCliSkeleton,
    LookupMaxItems,
    LookupMaxResults,
    LookupNextToken,
    LookupOutput,
    LookupPageSize,
    LookupPaginate,
    LookupProfile,
    LookupQueryText,
    LookupRegion,
    LookupStartingToken,
    LookupStartTime,
    LookupVerbose,
)
from trailsweep.cli.options import (
    EventCategoryOption,
    LookupAttributesOption,
    WhereOption,
    skeleton,
)
from trailsweep.cli.runner import silence_stdout
from trailsweep.settings.checks import check_environment, check_profile
from trailsweep.settings.cli_input import as_written, cli_input_json_with_token
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.limits import SWEEP
from trailsweep.settings.options import Options
from trailsweep.settings.query import Query
from trailsweep.settings.timeparse import parse_time
from trailsweep.settings.yaml_input import YAML_INPUT_SKELETON, load_cli_input_yaml


def lookup_events_command(
    lookup_attributes: LookupAttributesOption = None,
    where: WhereOption = None,
    start_time: LookupStartTime = None,
    end_time: LookupEndTime = None,
    event_category: EventCategoryOption = None,
    max_items: LookupMaxItems = None,
    page_size: LookupPageSize = None,
    starting_token: LookupStartingToken = None,
    next_token: LookupNextToken = None,
    max_results: LookupMaxResults = None,
    paginate: LookupPaginate = True,
    cli_input_json: LookupCliInputJson = None,
    cli_input_yaml: LookupCliInputYaml = None,
    generate_cli_skeleton: LookupGenerateCliSkeleton = None,
    region: LookupRegion = None,
    profile: LookupProfile = None,
    endpoint_url: LookupEndpointUrl = None,
    output: LookupOutput = None,
    query_text: LookupQueryText = None,
    verbose: LookupVerbose = False,
    quiet: QuietOption = False,
    log_format: LogFormatOption = "text",
) -> None:
    """LookupEvents for one account and region, printed as `aws cloudtrail lookup-events`
    prints it: one JSON document {"Events": [...], "NextToken": ...}, EventTime in epoch
    seconds as the AWS CLI v1 shows it. Accepts the AWS CLI's flags, so scripts can swap
    `aws cloudtrail` for `trailsweep`.

    Beyond the API: --lookup-attributes may repeat (AND across keys, OR across the values
    of one key) and --where filters on any field of the CloudTrail record. The most
    selective key runs on the server (one chain of calls per value, merged newest first,
    each event once); other keys and --where run here, on each returned event, so they
    cost no extra calls.

    Differences from the AWS CLI, on purpose: bad input is found before any call and exits
    2 (the CLI exits 255), naming the same API error code where the API would have given
    one; --max-items must be 1 or more; the whole output is printed when the run ended
    well (text and yaml-stream too, which the CLI prints page by page).
    """
    flags = LookupFlags(**locals())  # every parameter is the field of the same name
    if not _printed_skeleton(generate_cli_skeleton):
        run_lookup_events(flags)


def _printed_skeleton(kind: str | None) -> bool:
    """Print the --generate-cli-skeleton document asked for, if one was."""
    if kind not in (None, "", "input", "output", "yaml-input"):
        raise InputError(
            f"--generate-cli-skeleton: {kind!r} is not valid; use input, output or yaml-input"
        )
    if kind == "yaml-input":
        sys.stdout.buffer.write(YAML_INPUT_SKELETON.encode())
    elif kind is not None:
        sys.stdout.buffer.write(skeleton(kind or "input"))
    return kind is not None


def run_lookup_events(f: LookupFlags) -> None:
    """Check everything, then make the calls and print the document."""
    logs = LogSettings.of(verbose=f.verbose, quiet=f.quiet, log_format=f.log_format)
    check_environment()
    lookup, settings = _lookup(f)
    spec = resolve_output(f.output, f.query_text, settings.profile)
    check_reachable(settings, service="CLOUDTRAIL")  # a refused endpoint: one line, at once
    logs.setup(sys.stderr)
    try:
        if spec.streams_document:
            anyio.run(run_lookup, lookup, sys.stdout.buffer)
        else:
            sys.stdout.buffer.write(_rendered(lookup, spec))
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        silence_stdout()


def _lookup(f: LookupFlags) -> tuple[Lookup, SweepSettings]:
    """The calls to make, and the checked settings they come from."""
    given, raw_token = _input_document(f)
    flags = Options(
        lookup_attributes=f.lookup_attributes or None, where=f.where or None,
        start_time=f.start_time, end_time=f.end_time, event_category=f.event_category,
        max_items=f.max_items, page_size=f.page_size, region=f.region, profile=f.profile,
        endpoint_url=f.endpoint_url,
    )  # fmt: skip
    single = _single_call(f)
    if f.max_results is not None:
        flags.page_size = f.max_results
    opts = given.overlay(flags)
    now = datetime.now(UTC)
    try:
        settings = SweepSettings.from_options(opts, now=now)
    except InputError as err:
        source = "--cli-input-yaml" if f.cli_input_yaml is not None else "--cli-input-json"
        raise _as_aws(as_written(err, given, flags, source)) from None
    check_profile(settings.profile)
    lookup = Lookup(
        query=_as_given(settings.query, opts, now), region=settings.region,
        profile=settings.profile, endpoint_url=settings.endpoint_url,
        starting_token=f.starting_token or raw_token, single_call=single,
        next_token=f.next_token,
    )  # fmt: skip
    return lookup, settings


def _input_document(f: LookupFlags) -> tuple[Options, str | None]:
    """What --cli-input-json or --cli-input-yaml says, and its NextToken."""
    if f.cli_input_json is not None and f.cli_input_yaml is not None:
        raise InputError("Only one --cli-input- parameter may be specified: drop one of them")
    if f.cli_input_json is not None:
        return cli_input_json_with_token(f.cli_input_json, allow_token=True)
    if f.cli_input_yaml is not None:
        return load_cli_input_yaml(f.cli_input_yaml, allow_token=True)
    return Options(), None


def _single_call(f: LookupFlags) -> bool:
    """Whether this is one call (--no-paginate, --next-token, --max-results), whose
    flags exclude paging's; --max-results checked as the API checks MaxResults."""
    if f.paginate and f.next_token is None and f.max_results is None:
        return False
    given = [
        name for name, value in (("--max-items", f.max_items), ("--page-size", f.page_size),
                                 ("--starting-token", f.starting_token)) if value is not None
    ]  # fmt: skip
    if given:
        raise InputError(
            "Cannot specify --no-paginate along with pagination arguments: "
            f"{given[0]} (--next-token and --max-results make one call)"
        )
    if f.max_results is not None:
        too_big = "InvalidMaxResultsException" if f.max_results > 50 else None
        try:
            SWEEP["--max-results"].check("--max-results", f.max_results, code=too_big)
        except InputError as err:
            raise _as_aws(err) from None
    return True


def _as_given(query: Query, opts: Options, now: datetime) -> Query:
    """The query with only the times the user gave, unclipped, as the AWS CLI sends them
    (a NextToken is bound to the exact StartTime/EndTime of the call that made it)."""
    return dataclasses.replace(
        query,
        start=parse_time(opts.start_time, now=now) if opts.start_time else query.start,
        end=parse_time(opts.end_time, now=now) if opts.end_time else query.end,
        send_start=bool(opts.start_time), send_end=bool(opts.end_time),
    )  # fmt: skip


def _rendered(lookup: Lookup, spec: OutputSpec) -> bytes:
    """The run's document re-rendered: --query, another --output or ISO timestamps (the
    whole result is held in memory, as the AWS CLI holds it)."""
    document = io.BytesIO()
    pages: list[PrintedPage] = []
    anyio.run(lambda: run_lookup(lookup, document, pages=pages))
    parsed = json.loads(document.getvalue())
    return render(parsed, pages, paginated=not lookup.single_call, spec=spec)


def _as_aws(err: InputError) -> InputError:
    """The error as the AWS CLI words a service error, when the API has a code for it."""
    if err.code is None:
        return err
    return InputError(
        f"An error occurred ({err.code}) when calling the LookupEvents operation: {err}",
        code=err.code,
    )
