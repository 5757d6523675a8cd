"""`trailsweep sweep`: the CLI face of `trailsweep.engine.sweep`."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer

from trailsweep.aws.reach import check_reachable
from trailsweep.base.errors import InputError
from trailsweep.cli.logs import LogFormatOption, LogSettings, QuietOption
from trailsweep.cli.runner import run_interruptible, write_stdout
from trailsweep.cli.summary_json import summary_document
from trailsweep.engine.sweep import SweepReport
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.output.safe_files import write_created
from trailsweep.output.sink import prepare_export, run_export
from trailsweep.settings.checks import (
    CHECKPOINT_RESERVE,
    OUTPUT_RESERVE,
    check_environment,
    check_path,
)
from trailsweep.settings.config import (
    Options,
    as_written,
    build_config,
    check_writable,
    load_config,
    options_from_spec,
    spec_of,
)
from trailsweep.settings.config import cli_input_json as parse_cli_input_json
from trailsweep.settings.limits import SWEEP, split_list

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


def skeleton(kind: str) -> bytes:
    """The AWS CLI's --generate-cli-skeleton documents for lookup-events."""
    if kind not in ("input", "output"):
        raise InputError(f"--generate-cli-skeleton: {kind!r} is not valid; use input or output")
    doc = INPUT_SKELETON if kind == "input" else OUTPUT_SKELETON
    return json.dumps(doc, indent=4).encode() + b"\n"  # as the AWS CLI prints it


def sweep_command(
    accounts: Annotated[
        str | None,
        typer.Option(
            help="12-digit account ids and OU ids (ou-ab12-cdefgh12: every ACTIVE account "
            "under it, at any depth), comma-separated; or 'org' for every ACTIVE account "
            "(Organizations ListAccounts). Default: the caller's account."
        ),
    ] = None,
    exclude_accounts: Annotated[
        str | None,
        typer.Option(help="Account ids and OU ids, comma-separated, left out of --accounts."),
    ] = None,
    regions: Annotated[
        str | None,
        typer.Option(
            help="Regions, comma-separated, or 'all' for each account's enabled "
            "regions (Account ListRegions, or EC2 DescribeRegions where that is refused). "
            "Default: the configured region."
        ),
    ] = None,
    lookup_attributes: Annotated[
        list[str] | None, typer.Option(help=LOOKUP_ATTRIBUTES_HELP)
    ] = None,
    where: Annotated[list[str] | None, typer.Option(help=WHERE_HELP)] = None,
    start_time: Annotated[
        str | None,
        typer.Option(
            help="Oldest event (inclusive): ISO 8601, a date, epoch seconds or an age "
            "such as 7d, 36h, 30m. UTC. Default: 90 days before the end."
        ),
    ] = None,
    end_time: Annotated[
        str | None,
        typer.Option(
            help="Newest event (inclusive), same forms. Default and upper bound: the "
            "moment the sweep starts (the window is pinned)."
        ),
    ] = None,
    event_category: Annotated[
        str | None, typer.Option(help="'insight' for Insights events instead of management.")
    ] = None,
    max_items: Annotated[
        int | None,
        typer.Option(help="Stop after this many events over the whole sweep, 1..2**53-1."),
    ] = None,
    page_size: Annotated[
        int | None, typer.Option(help="Events per LookupEvents call (MaxResults), 1..50.")
    ] = None,
    cli_input_json: Annotated[
        str | None,
        typer.Option(
            help="LookupEvents parameters as JSON, inline or file://path "
            "(flags override it). See --generate-cli-skeleton input."
        ),
    ] = None,
    generate_cli_skeleton: Annotated[
        str | None,
        typer.Option(help="Print the input (default) or output JSON skeleton and exit."),
    ] = None,
    config: Annotated[
        str | None, typer.Option(help="TOML config file (see configs/); flags override it.")
    ] = None,
    role_name: Annotated[
        str | None,
        typer.Option(
            help="Role assumed in member accounts. Default: OrganizationAccountAccessRole."
        ),
    ] = None,
    external_id: Annotated[str | None, typer.Option(help="ExternalId for AssumeRole.")] = None,
    session_name: Annotated[
        str | None, typer.Option(help="RoleSessionName for AssumeRole. Default: trailsweep.")
    ] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile for base credentials.")] = None,
    region: Annotated[
        str | None, typer.Option(help="Region of the caller's session (STS, default region).")
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            help="Send every AWS call here (e.g. the emulator). AWS_ENDPOINT_URL works too."
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            help="LookupEvents calls/s per account and region, above 0, at most 100. Default 2."
        ),
    ] = None,
    connect_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds any AWS call may take to connect. Default 10."),
    ] = None,
    read_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds any AWS call may wait for its answer. Default 30; 3 timeouts "
            "of one page in a row fail that account/region (STS, Organizations, Account, "
            "EC2: 3 tries, at most 3 x (connect + read) in all)."
        ),
    ] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write NDJSON here instead of stdout.")
    ] = None,
    raw: Annotated[
        bool | None,
        typer.Option("--raw/--no-raw", help="Keep CloudTrailEvent as the API's JSON string."),
    ] = None,
    unordered: Annotated[
        bool | None,
        typer.Option(
            "--unordered/--ordered",
            help="Write each event as soon as it arrives: order holds only within "
            "an account and region, nothing waits for the slowest pair.",
        ),
    ] = None,
    summary_json: Annotated[
        str | None, typer.Option(help="Also write the final summary as JSON to this file.")
    ] = None,
    file_mode: Annotated[
        str | None,
        typer.Option(
            help="Mode (octal) of the output and --summary-json files the sweep creates. "
            "Default 600: they hold full CloudTrail records. Existing files keep theirs."
        ),
    ] = None,
    checkpoint: Annotated[
        str | None,
        typer.Option(
            help="Checkpoint file of an --output export. Default: OUTPUT.checkpoint.json."
        ),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            help="Continue the export to this output file (or checkpoint) with the "
            "question stored in its checkpoint; running the same command again "
            "does the same."
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Start a new export over an existing --output: a finished export (which "
            "a rerun otherwise leaves alone) or a file that is not an export.",
        ),
    ] = False,
    checkpoint_interval: Annotated[
        float, typer.Option(help="Seconds between checkpoints, at most 3600.", hidden=True)
    ] = 2.0,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Live progress on stderr. Default: only when stderr is a terminal.",
        ),
    ] = None,
    lean: Annotated[
        bool, typer.Option("--lean/--no-lean", hidden=True, help="The lean call path.")
    ] = True,
    slices: Annotated[
        bool, typer.Option("--slices/--no-slices", hidden=True, help="Time-sliced pagers.")
    ] = True,
    read_ahead: Annotated[
        int | None,
        typer.Option(
            help="Pages each account/region may hold ahead of the ordered merge, for its "
            "read-ahead and its time slices, 0..1000. Default: at most 40 each, within a budget "
            "shared by all pairs; past 256 pages in memory, waiting pages go to a "
            "temporary file."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every call (pair, latency, outcome).")
    ] = False,
    quiet: QuietOption = False,
    log_format: LogFormatOption = "text",
) -> None:
    """Sweep LookupEvents over accounts x regions into one newest-first NDJSON stream.

    Events are ordered by EventTime (newest first), ties by account, region, then API
    order; two runs over the same data give the same bytes. NDJSON goes to stdout (or
    --output); progress and the summary go to stderr.

    Exit codes: 0 every pair complete (or stopped at --max-items); 1 some pairs failed
    (their good events are written) or a server fault (5xx, unreachable, no answer) stopped
    the sweep before it started; 2 bad input or configuration (nothing written, nothing
    called); 130 interrupted.
    """
    if generate_cli_skeleton is not None:
        sys.stdout.buffer.write(skeleton(generate_cli_skeleton or "input"))
        return
    logs = LogSettings.of(verbose=verbose, quiet=quiet, log_format=log_format)
    flags = Options(
        accounts=None if accounts is None else split_list("--accounts", accounts),
        exclude_accounts=None if exclude_accounts is None
        else split_list("--exclude-accounts", exclude_accounts),
        regions=None if regions is None else split_list("--regions", regions),
        role_name=role_name, external_id=external_id, session_name=session_name,
        profile=profile, region=region, endpoint_url=endpoint_url,
        lookup_attributes=lookup_attributes or None, where=where or None,
        start_time=start_time, end_time=end_time,
        event_category=event_category, max_items=max_items, page_size=page_size, rate=rate,
        output=output, raw=raw, unordered=unordered,
        connect_timeout=connect_timeout, read_timeout=read_timeout, file_mode=file_mode,
    )  # fmt: skip
    SWEEP["--checkpoint-interval"].check("--checkpoint-interval", checkpoint_interval)
    if read_ahead is not None:
        SWEEP["--read-ahead"].check("--read-ahead", read_ahead)
    check_environment()
    if checkpoint is not None:
        check_path(checkpoint, "--checkpoint", reserve=CHECKPOINT_RESERVE)
    # `is not None`: an empty value given is bad input to report, not an option left out.
    given = Options()  # what --cli-input-json says, to name its keys in errors
    if resume is not None:
        if overwrite:
            raise InputError("--resume continues an export; --overwrite starts a new one: drop one")
        if config is not None or cli_input_json is not None:
            raise InputError(
                "--resume takes the question from the checkpoint; drop --config "
                "and --cli-input-json"
            )
        opts, checkpoint = _resume_options(resume, flags, checkpoint)
    else:
        opts = load_config(config) if config is not None else Options()
        if cli_input_json is not None:
            given = parse_cli_input_json(cli_input_json)
            opts = opts.overlay(given)
        opts = opts.overlay(flags)
    try:
        built = build_config(opts, now=datetime.now(UTC))
    except InputError as err:
        raise as_written(err, given, flags, "--cli-input-json") from None
    cfg = dataclasses.replace(
        built,
        lean=lean,
        slices=slices,
        read_ahead=read_ahead,
    )
    if summary_json is not None:
        check_writable(check_path(summary_json, "--summary-json"), "--summary-json")
    if checkpoint and cfg.output is None:
        raise InputError("--checkpoint goes with --output FILE; stdout is not checkpointed")
    report = SweepReport()
    export = None
    if cfg.output is not None:
        export = prepare_export(
            cfg,
            spec_of(opts, cfg),
            Path(checkpoint) if checkpoint else None,
            summary=Path(summary_json) if summary_json else None,
            overwrite=overwrite,
        )
        if export.complete is not None:  # a finished export run again: leave it be
            export.lock.release()
            sys.stderr.write(export.complete.message)
            raise typer.Exit(export.complete.exit_code)
    elif overwrite:
        raise InputError("--overwrite goes with --output FILE; stdout is never overwritten")
    try:
        check_reachable(cfg)  # a refused endpoint: one line in a second (reach.py)
    except BaseException:
        if export is not None:
            export.lock.release()
        raise
    logs.setup(sys.stderr)
    show = sys.stderr.isatty() and not quiet if progress is None else progress

    async def work() -> None:
        if export is not None:
            await run_export(export, report, interval=checkpoint_interval)
        else:
            await write_stdout(cfg, report)

    code = run_interruptible(
        work, report, progress=(cfg.query, bool(progress)) if show else None,
        checkpoint=export.checkpoint if export is not None else None,
    )  # fmt: skip
    logs.summary(report, sys.stderr)
    if summary_json:
        summary = orjson.dumps(summary_document(report, cfg), option=orjson.OPT_INDENT_2)
        write_created(Path(summary_json), summary, cfg.file_mode)
    raise typer.Exit(code)


_QUESTION_FLAGS = (
    "accounts", "regions", "role_name", "external_id", "lookup_attributes", "where", "start_time",
    "end_time", "event_category", "max_items", "page_size", "raw", "unordered", "exclude_accounts",
)  # fmt: skip


def _resume_options(target: str, flags: Options, checkpoint: str | None) -> tuple[Options, str]:
    """Options of the stored sweep for --resume; flags may change how, not what."""
    path = check_path(target, "--resume", reserve=OUTPUT_RESERVE)
    if path.name.endswith(".checkpoint.json"):
        ckpt_path, output = path, path.with_name(path.name.removesuffix(".checkpoint.json"))
    else:
        ckpt_path, output = Path(checkpoint) if checkpoint else ckpt_mod.default_path(path), path
    if not ckpt_path.exists():
        raise InputError(f"--resume: no checkpoint at {ckpt_path}; nothing to resume")
    given = [name for name in _QUESTION_FLAGS if getattr(flags, name) is not None]
    if given:
        raise InputError(
            f"--resume: --{given[0].replace('_', '-')} would change the stored question; "
            "resume without it, or start a new export"
        )
    stored = ckpt_mod.load(ckpt_path)
    opts = options_from_spec(stored.spec).overlay(flags)
    # "./" kept: a resumed export named `json` is a file, not checks.AWS_CLI_FORMATS' word.
    opts.output = str(output) if output.is_absolute() else f"./{output}"
    return opts, str(ckpt_path)
