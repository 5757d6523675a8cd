"""`trailsweep lookup-events`: `aws cloudtrail lookup-events`, same flags and document."""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import anyio
import typer

from trailsweep.aws.reach import check_reachable
from trailsweep.base.errors import InputError
from trailsweep.cli.logs import LogFormatOption, LogSettings, QuietOption
from trailsweep.cli.runner import silence_stdout
from trailsweep.cli.sweep import LOOKUP_ATTRIBUTES_HELP, WHERE_HELP, skeleton
from trailsweep.engine.single_pair import Lookup, PrintedPage, run_lookup
from trailsweep.output.formats import FORMATS, OutputSpec, render, resolve_output
from trailsweep.settings.checks import check_environment
from trailsweep.settings.config import Options, as_written, build_config, cli_input_json_with_token
from trailsweep.settings.limits import SWEEP
from trailsweep.settings.timeparse import parse_time
from trailsweep.settings.yaml_input import YAML_INPUT_SKELETON, load_cli_input_yaml


def lookup_events_command(
    lookup_attributes: Annotated[
        list[str] | None, typer.Option(help=LOOKUP_ATTRIBUTES_HELP, show_default=False)
    ] = None,
    where: Annotated[list[str] | None, typer.Option(help=WHERE_HELP)] = None,
    start_time: Annotated[
        str | None,
        typer.Option(
            help="Oldest event (inclusive): ISO 8601, a date or epoch seconds (UTC), or an "
            "age such as 7d. Default: the API's (90 days back)."
        ),
    ] = None,
    end_time: Annotated[
        str | None,
        typer.Option(help="Newest event (inclusive), same forms. Default: the API's (now)."),
    ] = None,
    event_category: Annotated[
        str | None, typer.Option(help="'insight' for Insights events instead of management.")
    ] = None,
    max_items: Annotated[
        int | None,
        typer.Option(
            help="Print at most this many events (1..2**53-1), then a NextToken to pass "
            "to --starting-token (the AWS CLI's token; the CLI takes ours too)."
        ),
    ] = None,
    page_size: Annotated[
        int | None, typer.Option(help="Events per call (MaxResults), 1..50. Default 50.")
    ] = None,
    starting_token: Annotated[
        str | None, typer.Option(help="Continue from a NextToken a --max-items run printed.")
    ] = None,
    next_token: Annotated[
        str | None,
        typer.Option(
            help="Make one call with this raw API NextToken and print the raw response "
            "(no pagination, as the AWS CLI)."
        ),
    ] = None,
    max_results: Annotated[
        int | None,
        typer.Option(help="MaxResults of a single call (implies --no-paginate).", hidden=True),
    ] = None,
    paginate: Annotated[
        bool,
        typer.Option(
            "--paginate/--no-paginate",
            help="--no-paginate: make one call and print its raw NextToken.",
        ),
    ] = True,
    cli_input_json: Annotated[
        str | None,
        typer.Option(
            help="Parameters as JSON, inline or file://path (flags override it); see "
            "--generate-cli-skeleton input. NextToken there is a raw API token to start from."
        ),
    ] = None,
    cli_input_yaml: Annotated[
        str | None,
        typer.Option(
            help="Parameters as YAML, inline or file://path (flags override it); see "
            "--generate-cli-skeleton yaml-input. Not with --cli-input-json."
        ),
    ] = None,
    generate_cli_skeleton: Annotated[
        str | None,
        typer.Option(
            help="Print the input (default) or output JSON skeleton, or the yaml-input "
            "skeleton, and exit."
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="Region to ask. Default: AWS_REGION / the profile's.")
    ] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile for credentials.")] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(help="Send the calls here (e.g. the emulator). AWS_ENDPOINT_URL works too."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            help=f"Output format: {', '.join(FORMATS)}. Default: AWS_DEFAULT_OUTPUT, then "
            "`output` in the profile's AWS config, then json. EventTime is epoch seconds "
            "unless the profile sets cli_timestamp_format = iso8601.",
            show_default=False,
        ),
    ] = None,
    query_text: Annotated[
        str | None,
        typer.Option(
            "--query",
            help="JMESPath expression applied to the result, as the AWS CLI applies it "
            "(after pagination; page by page for text and yaml-stream).",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every call on stderr.")
    ] = False,
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
    if generate_cli_skeleton not in (None, "", "input", "output", "yaml-input"):
        raise InputError(
            f"--generate-cli-skeleton: {generate_cli_skeleton!r} is not valid; use input, "
            "output or yaml-input"
        )
    if generate_cli_skeleton == "yaml-input":
        sys.stdout.buffer.write(YAML_INPUT_SKELETON.encode())
        return
    if generate_cli_skeleton is not None:
        sys.stdout.buffer.write(skeleton(generate_cli_skeleton or "input"))
        return
    logs = LogSettings.of(verbose=verbose, quiet=quiet, log_format=log_format)
    check_environment()
    opts = Options()
    raw_token: str | None = None
    if cli_input_json is not None and cli_input_yaml is not None:
        raise InputError("Only one --cli-input- parameter may be specified: drop one of them")
    if cli_input_json is not None:
        opts, raw_token = cli_input_json_with_token(cli_input_json, allow_token=True)
    if cli_input_yaml is not None:
        opts, raw_token = load_cli_input_yaml(cli_input_yaml, allow_token=True)
    from_input = opts  # what the input document says, to name its keys in errors
    flags = Options(
        lookup_attributes=lookup_attributes or None, where=where or None,
        start_time=start_time, end_time=end_time, event_category=event_category,
        max_items=max_items, page_size=page_size, region=region, profile=profile,
        endpoint_url=endpoint_url,
    )  # fmt: skip
    opts = opts.overlay(flags)
    single = not paginate or next_token is not None or max_results is not None
    if single:
        given = [
            name for name, value in (("--max-items", max_items), ("--page-size", page_size),
                                     ("--starting-token", starting_token)) if value is not None
        ]  # fmt: skip
        if given:
            raise InputError(
                "Cannot specify --no-paginate along with pagination arguments: "
                f"{given[0]} (--next-token and --max-results make one call)"
            )
        if max_results is not None:
            too_big = "InvalidMaxResultsException" if max_results > 50 else None
            try:
                SWEEP["--max-results"].check("--max-results", max_results, code=too_big)
            except InputError as err:
                raise _as_aws(err) from None
            opts.page_size = flags.page_size = max_results
    now = datetime.now(UTC)
    try:
        cfg = build_config(opts, now=now)
    except InputError as err:
        source = "--cli-input-yaml" if cli_input_yaml is not None else "--cli-input-json"
        raise _as_aws(as_written(err, from_input, flags, source)) from None
    query = dataclasses.replace(
        cfg.query,
        start=parse_time(opts.start_time, now=now) if opts.start_time else cfg.query.start,
        end=parse_time(opts.end_time, now=now) if opts.end_time else cfg.query.end,
        send_start=bool(opts.start_time), send_end=bool(opts.end_time),
    )  # fmt: skip
    lookup = Lookup(
        query=query, region=cfg.region, profile=cfg.profile, endpoint_url=cfg.endpoint_url,
        starting_token=starting_token or raw_token, single_call=single,
        next_token=next_token,
    )  # fmt: skip
    spec = resolve_output(output, query_text, opts.profile)
    check_reachable(cfg, service="CLOUDTRAIL")  # a refused endpoint: one line, at once
    logs.setup(sys.stderr)
    try:
        if spec.streams_document:
            anyio.run(run_lookup, lookup, sys.stdout.buffer)
        else:
            sys.stdout.buffer.write(_rendered(lookup, spec))
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        silence_stdout()


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
