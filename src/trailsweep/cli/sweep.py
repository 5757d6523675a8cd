"""`trailsweep sweep`: flags -> `SweepSettings` -> an export to a file or stdout.

The command builds the settings exactly as a library user does (`SweepSettings.from_options`
over a config file, an input document and the flags, flags winning) and runs the export
or the stdout stream over them; what only the CLI has (--resume, --summary-json, progress,
signals) is here.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import typer

from trailsweep import SweepReport
from trailsweep.api.exporting import (
    Export,
    checkpoint_path,
    load_checkpoint,
    options_from_spec,
    prepare,
    run_export,
)
from trailsweep.api.incremental import StateRun, state_line, state_of
from trailsweep.api.parts import PartsExport, prepare_parts, run_parts
from trailsweep.api.preflight import check_reachable, check_writable, write_created
from trailsweep.base.errors import InputError
from trailsweep.cli.follow import run_follow
from trailsweep.cli.logs import LogFormatOption, LogSettings, QuietOption
from trailsweep.cli.options import (
    EventCategoryOption,
    LookupAttributesOption,
    WhereOption,
    skeleton,
)
from trailsweep.cli.runner import run_interruptible, write_stdout
from trailsweep.cli.summary_json import summary_document
from trailsweep.cli.sweep_options import (
    SweepAccounts,
    SweepCheckpoint,
    SweepCheckpointInterval,
    SweepCliInputJson,
    SweepCompress,
    SweepConfigFile,
    SweepConnectTimeout,
    SweepEndpointUrl,
    SweepEndTime,
    SweepExcludeAccounts,
    SweepExternalId,
    SweepFileMode,
    SweepFlags,
    SweepFollow,
    SweepGenerateCliSkeleton,
    SweepLean,
    SweepLookback,
    SweepMaxItems,
    SweepOutput,
    SweepOutputDir,
    SweepOverwrite,
    SweepPageSize,
    SweepPartAge,
    SweepPartSize,
    SweepPollInterval,
    SweepProfile,
    SweepProgress,
    SweepRate,
    SweepRaw,
    SweepReadAhead,
    SweepReadTimeout,
    SweepRegion,
    SweepRegions,
    SweepResume,
    SweepRoleName,
    SweepSessionName,
    SweepSettle,
    SweepShard,
    SweepSlices,
    SweepStartTime,
    SweepState,
    SweepSummaryJson,
    SweepUnordered,
    SweepVerbose,
    SweepWorkers,
)
from trailsweep.settings.checks import (
    CHECKPOINT_RESERVE,
    OUTPUT_RESERVE,
    check_environment,
    check_path,
    check_profile,
)
from trailsweep.settings.cli_input import as_written
from trailsweep.settings.cli_input import cli_input_json as parse_cli_input_json
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.limits import SWEEP, split_list
from trailsweep.settings.options import Options, load_config


def sweep_command(
    accounts: SweepAccounts = None,
    exclude_accounts: SweepExcludeAccounts = None,
    regions: SweepRegions = None,
    lookup_attributes: LookupAttributesOption = None,
    where: WhereOption = None,
    start_time: SweepStartTime = None,
    end_time: SweepEndTime = None,
    event_category: EventCategoryOption = None,
    max_items: SweepMaxItems = None,
    page_size: SweepPageSize = None,
    cli_input_json: SweepCliInputJson = None,
    generate_cli_skeleton: SweepGenerateCliSkeleton = None,
    config: SweepConfigFile = None,
    role_name: SweepRoleName = None,
    external_id: SweepExternalId = None,
    session_name: SweepSessionName = None,
    profile: SweepProfile = None,
    region: SweepRegion = None,
    endpoint_url: SweepEndpointUrl = None,
    rate: SweepRate = None,
    connect_timeout: SweepConnectTimeout = None,
    read_timeout: SweepReadTimeout = None,
    output: SweepOutput = None,
    output_dir: SweepOutputDir = None,
    part_size: SweepPartSize = None,
    part_age: SweepPartAge = None,
    compress: SweepCompress = None,
    raw: SweepRaw = None,
    unordered: SweepUnordered = None,
    summary_json: SweepSummaryJson = None,
    file_mode: SweepFileMode = None,
    checkpoint: SweepCheckpoint = None,
    resume: SweepResume = None,
    overwrite: SweepOverwrite = False,
    checkpoint_interval: SweepCheckpointInterval = 2.0,
    progress: SweepProgress = None,
    lean: SweepLean = True,
    slices: SweepSlices = True,
    read_ahead: SweepReadAhead = None,
    workers: SweepWorkers = None,
    state: SweepState = None,
    lookback: SweepLookback = None,
    follow: SweepFollow = None,
    poll_interval: SweepPollInterval = None,
    settle: SweepSettle = None,
    shard: SweepShard = None,
    verbose: SweepVerbose = False,
    quiet: QuietOption = False,
    log_format: LogFormatOption = "text",
) -> None:
    """Sweep LookupEvents over accounts x regions into one newest-first NDJSON stream.

    Events are ordered by EventTime (newest first), ties by account, region, then API
    order; two runs over the same data give the same bytes. NDJSON goes to stdout (or
    --output, or parts in --output-dir); progress and the summary go to stderr.

    Exit codes: 0 every pair complete (or stopped at --max-items); 1 some pairs failed
    (their good events are written) or a server fault (5xx, unreachable, no answer) stopped
    the sweep before it started; 2 bad input or configuration (nothing written, nothing
    called); 130 interrupted.
    """
    flags = SweepFlags(**locals())  # every parameter is the field of the same name
    if generate_cli_skeleton is not None:
        sys.stdout.buffer.write(skeleton(generate_cli_skeleton or "input"))
        return
    raise typer.Exit(run_sweep(flags))


def run_sweep(f: SweepFlags) -> int:
    """Check everything, then sweep into --output (resumable) or stdout; the exit code."""
    logs = LogSettings.of(verbose=f.verbose, quiet=f.quiet, log_format=f.log_format)
    settings, checkpoint = _settings(f)
    # A follower's parts are its own (api/follow.py: FollowParts), not a sweep's export.
    export = None if settings.follow else _prepare(f, settings, checkpoint)
    if settings.follow and f.summary_json is not None:
        check_writable(check_path(f.summary_json, "--summary-json"), "--summary-json")
    with state_of(settings, export) as state:
        if settings.follow:
            return run_follow(
                settings, state, logs, verbose=f.verbose, quiet=f.quiet,
                summary_json=f.summary_json,
            )  # fmt: skip
        return _run(f, logs, settings, export, state)


def _run(
    f: SweepFlags, logs: LogSettings, settings: SweepSettings,
    export: Export | PartsExport | None, state: StateRun | None,
) -> int:  # fmt: skip
    done = None if export is None else export.complete
    if export is not None and done is not None:  # a finished export run again
        export.lock.release()
        if state is not None and isinstance(export, PartsExport) and state.committed(export):
            export = prepare_parts(settings, overwrite=True)  # the next run into its parts
        else:
            if state is not None:
                state.commit_finished(export)
            sys.stderr.write(done.message)
            return done.exit_code
    try:
        check_reachable(settings)  # a refused endpoint: one line in a second (reach.py)
        report = SweepReport()
        if state is not None:  # before any call: an output's run is pending from here on
            state.attach(report, export)
    except BaseException:
        if export is not None:
            export.lock.release()
        raise
    logs.setup(sys.stderr)
    show = sys.stderr.isatty() and not f.quiet if f.progress is None else f.progress

    async def work() -> None:
        if isinstance(export, PartsExport):
            await run_parts(export, report, hooks=state.hooks() if state is not None else None)
        elif export is not None:
            await run_export(export, report, interval=f.checkpoint_interval)
        else:
            await write_stdout(settings, report)

    code = run_interruptible(
        work, report, progress=(settings.query, bool(f.progress)) if show else None,
        checkpoint=export.checkpoint if export is not None else None,
    )  # fmt: skip
    if state is not None:
        state.commit(report, to_file=export is not None)
    logs.summary(report, sys.stderr)
    if state is not None and not f.quiet:
        sys.stderr.write(state_line(report, state))
    if f.summary_json:
        summary = orjson.dumps(summary_document(report, settings), option=orjson.OPT_INDENT_2)
        write_created(Path(f.summary_json), summary, settings.file_mode)
    return code


def _given(f: SweepFlags) -> Options:
    """The settings the flags give (None: not given)."""
    return Options(
        accounts=None if f.accounts is None else split_list("--accounts", f.accounts),
        exclude_accounts=None if f.exclude_accounts is None
        else split_list("--exclude-accounts", f.exclude_accounts),
        regions=None if f.regions is None else split_list("--regions", f.regions),
        role_name=f.role_name, external_id=f.external_id, session_name=f.session_name,
        profile=f.profile, region=f.region, endpoint_url=f.endpoint_url,
        lookup_attributes=f.lookup_attributes or None, where=f.where or None,
        start_time=f.start_time, end_time=f.end_time,
        event_category=f.event_category, max_items=f.max_items, page_size=f.page_size,
        rate=f.rate, output=f.output, raw=f.raw, unordered=f.unordered,
        output_dir=f.output_dir, part_size=f.part_size, part_age=f.part_age,
        compress=f.compress,
        connect_timeout=f.connect_timeout, read_timeout=f.read_timeout, file_mode=f.file_mode,
        state=f.state, lookback=f.lookback, follow=f.follow, poll_interval=f.poll_interval,
        settle=f.settle, shard=f.shard,
    )  # fmt: skip


def _settings(f: SweepFlags) -> tuple[SweepSettings, str | None]:
    """The checked settings and the checkpoint file named (by --checkpoint or --resume);
    the output is checked writable here, before any call."""
    flags = _given(f)
    SWEEP["--checkpoint-interval"].check("--checkpoint-interval", f.checkpoint_interval)
    if f.read_ahead is not None:
        SWEEP["--read-ahead"].check("--read-ahead", f.read_ahead)
    check_environment()
    if f.checkpoint is not None:
        check_path(f.checkpoint, "--checkpoint", reserve=CHECKPOINT_RESERVE)
    opts, given, checkpoint = _sources(f, flags)
    try:
        settings = SweepSettings.from_options(
            opts, now=datetime.now(UTC), lean=f.lean, slices=f.slices,
            read_ahead=f.read_ahead, workers="auto" if f.workers is None else f.workers,
            env=os.environ,  # --shard auto: the engine's variables (settings/shard_input.py)
        )  # fmt: skip
    except InputError as err:
        raise as_written(err, given, flags, "--cli-input-json") from None
    check_profile(settings.profile)
    if settings.output is not None:
        check_writable(settings.output)
    return settings, checkpoint


def _sources(f: SweepFlags, flags: Options) -> tuple[Options, Options, str | None]:
    """The settings given (a config file and an input document under the flags, or the
    checkpoint's question for --resume), what the input document said (to name its keys
    in errors), and the checkpoint file."""
    # `is not None`: an empty value given is bad input to report, not an option left out.
    if f.resume is None:
        opts = load_config(f.config) if f.config is not None else Options()
        given = Options()
        if f.cli_input_json is not None:
            given = parse_cli_input_json(f.cli_input_json)
            opts = opts.overlay(given)
        return opts.overlay(flags), given, f.checkpoint
    if f.overwrite:
        raise InputError("--resume continues an export; --overwrite starts a new one: drop one")
    if f.output_dir is not None:
        raise InputError(
            "--resume continues an --output FILE export; an --output-dir sweep resumes when "
            "its command is run again: drop --resume"
        )
    if f.config is not None or f.cli_input_json is not None:
        raise InputError(
            "--resume takes the question from the checkpoint; drop --config and --cli-input-json"
        )
    opts, checkpoint = _resume_options(f.resume, flags, f.checkpoint)
    return opts, Options(), checkpoint


def _prepare(
    f: SweepFlags, settings: SweepSettings, checkpoint: str | None
) -> Export | PartsExport | None:
    """The export to --output or --output-dir, locked and checked (None: stdout)."""
    if f.summary_json is not None:
        check_writable(check_path(f.summary_json, "--summary-json"), "--summary-json")
    if settings.output_dir is not None or settings.output_s3 is not None:
        if checkpoint:
            raise InputError(
                "--checkpoint goes with --output FILE; --output-dir keeps its checkpoint in "
                "the directory (.trailsweep.checkpoint.json): drop --checkpoint"
            )
        return prepare_parts(settings, overwrite=f.overwrite)
    if checkpoint and settings.output is None:
        raise InputError("--checkpoint goes with --output FILE; stdout is not checkpointed")
    if settings.output is None:
        if f.overwrite:
            raise InputError("--overwrite goes with --output FILE; stdout is never overwritten")
        return None
    return prepare(
        settings,
        Path(checkpoint) if checkpoint else None,
        summary=Path(f.summary_json) if f.summary_json else None,
        overwrite=f.overwrite,
    )


_QUESTION_FLAGS = (
    "accounts", "regions", "role_name", "external_id", "lookup_attributes", "where", "start_time",
    "end_time", "event_category", "max_items", "page_size", "raw", "unordered", "exclude_accounts",
    "shard",
)  # fmt: skip


def _resume_options(target: str, flags: Options, checkpoint: str | None) -> tuple[Options, str]:
    """Options of the stored sweep for --resume; flags may change how, not what."""
    path = check_path(target, "--resume", reserve=OUTPUT_RESERVE)
    if path.name.endswith(".checkpoint.json"):
        ckpt_path, output = path, path.with_name(path.name.removesuffix(".checkpoint.json"))
    else:
        ckpt_path, output = Path(checkpoint) if checkpoint else checkpoint_path(path), path
    if not ckpt_path.exists():
        raise InputError(f"--resume: no checkpoint at {ckpt_path}; nothing to resume")
    given = [name for name in _QUESTION_FLAGS if getattr(flags, name) is not None]
    if given:
        raise InputError(
            f"--resume: --{given[0].replace('_', '-')} would change the stored question; "
            "resume without it, or start a new export"
        )
    stored = load_checkpoint(ckpt_path)
    opts = options_from_spec(stored.spec).overlay(flags)
    # "./" kept: a resumed export named `json` is a file, not checks.AWS_CLI_FORMATS' word.
    opts.output = str(output) if output.is_absolute() else f"./{output}"
    return opts, str(ckpt_path)
