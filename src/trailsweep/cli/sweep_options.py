"""The options of `trailsweep sweep` (those it shares with lookup-events: options.py), and
`SweepFlags`, what the command was given.

Each option is a type (`SweepAccounts`) the command's signature names; the command passes
its parameters on whole as `SweepFlags`, so the code that runs it (sweep.py) reads them
as one typed value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

SweepAccounts = Annotated[
    str | None,
    typer.Option(
        help="12-digit account ids and OU ids (ou-ab12-cdefgh12: every ACTIVE account "
        "under it, at any depth), comma-separated; or 'org' for every ACTIVE account "
        "(Organizations ListAccounts). Default: the caller's account."
    ),
]

SweepExcludeAccounts = Annotated[
    str | None,
    typer.Option(help="Account ids and OU ids, comma-separated, left out of --accounts."),
]

SweepRegions = Annotated[
    str | None,
    typer.Option(
        help="Regions, comma-separated, or 'all' for each account's enabled "
        "regions (Account ListRegions, or EC2 DescribeRegions where that is refused). "
        "Default: the configured region."
    ),
]

SweepStartTime = Annotated[
    str | None,
    typer.Option(
        help="Oldest event (inclusive): ISO 8601, a date, epoch seconds or an age "
        "such as 7d, 36h, 30m. UTC. Default: 90 days before the end."
    ),
]

SweepEndTime = Annotated[
    str | None,
    typer.Option(
        help="Newest event (inclusive), same forms. Default and upper bound: the "
        "moment the sweep starts (the window is pinned)."
    ),
]

SweepMaxItems = Annotated[
    int | None,
    typer.Option(help="Stop after this many events over the whole sweep, 1..2**53-1."),
]

SweepPageSize = Annotated[
    int | None, typer.Option(help="Events per LookupEvents call (MaxResults), 1..50.")
]

SweepCliInputJson = Annotated[
    str | None,
    typer.Option(
        help="LookupEvents parameters as JSON, inline or file://path "
        "(flags override it). See --generate-cli-skeleton input."
    ),
]

SweepGenerateCliSkeleton = Annotated[
    str | None,
    typer.Option(help="Print the input (default) or output JSON skeleton and exit."),
]

SweepConfigFile = Annotated[
    str | None, typer.Option(help="TOML config file (see configs/); flags override it.")
]

SweepRoleName = Annotated[
    str | None,
    typer.Option(help="Role assumed in member accounts. Default: OrganizationAccountAccessRole."),
]

SweepExternalId = Annotated[str | None, typer.Option(help="ExternalId for AssumeRole.")]

SweepSessionName = Annotated[
    str | None, typer.Option(help="RoleSessionName for AssumeRole. Default: trailsweep.")
]

SweepProfile = Annotated[str | None, typer.Option(help="AWS profile for base credentials.")]

SweepRegion = Annotated[
    str | None, typer.Option(help="Region of the caller's session (STS, default region).")
]

SweepEndpointUrl = Annotated[
    str | None,
    typer.Option(help="Send every AWS call here (e.g. the emulator). AWS_ENDPOINT_URL works too."),
]

SweepRate = Annotated[
    float | None,
    typer.Option(
        help="LookupEvents calls/s per account and region, above 0, at most 100. Default 2."
    ),
]

SweepConnectTimeout = Annotated[
    float | None,
    typer.Option(help="Seconds any AWS call may take to connect. Default 10."),
]

SweepReadTimeout = Annotated[
    float | None,
    typer.Option(
        help="Seconds any AWS call may wait for its answer. Default 30; 3 timeouts "
        "of one page in a row fail that account/region (STS, Organizations, Account, "
        "EC2: 3 tries, at most 3 x (connect + read) in all)."
    ),
]

SweepOutput = Annotated[
    str | None, typer.Option("--output", "-o", help="Write NDJSON here instead of stdout.")
]

SweepOutputDir = Annotated[
    str | None,
    typer.Option(
        help="Write NDJSON in parts into this directory (it must exist) instead of "
        "stdout: each part appears by an atomic rename once whole, named "
        "trailsweep-<UTC time>-<number>.ndjson[.gz|.zst], for log shippers to read; "
        "resumable like --output."
    ),
]

SweepPartSize = Annotated[
    str | None,
    typer.Option(
        help="With --output-dir: close a part at this much NDJSON (uncompressed), such "
        "as 10MB, 64MiB or bytes; 1KiB..1TiB. Default 64MiB."
    ),
]

SweepPartAge = Annotated[
    str | None,
    typer.Option(
        help="With --output-dir: close a part this long after its first line (30s, 5m, "
        "1h), lines or not. Default: parts close on size and at the end."
    ),
]

SweepCompress = Annotated[
    str | None,
    typer.Option(help="With --output-dir: compress each part, gz or zst. Default: none."),
]

SweepWorkers = Annotated[
    str | None,
    typer.Option(
        metavar="N|auto",
        help="Processes that sweep the pairs, their events merged here into the same "
        "bytes one process writes. Default auto: one per 250 pairs, up to the cores "
        "(fewer pairs run in this process alone).",
    ),
]

SweepRaw = Annotated[
    bool | None,
    typer.Option("--raw/--no-raw", help="Keep CloudTrailEvent as the API's JSON string."),
]

SweepUnordered = Annotated[
    bool | None,
    typer.Option(
        "--unordered/--ordered",
        help="Write each event as soon as it arrives: order holds only within "
        "an account and region, nothing waits for the slowest pair.",
    ),
]

SweepSummaryJson = Annotated[
    str | None, typer.Option(help="Also write the final summary as JSON to this file.")
]

SweepFileMode = Annotated[
    str | None,
    typer.Option(
        help="Mode (octal) of the output and --summary-json files the sweep creates. "
        "Default 600: they hold full CloudTrail records. Existing files keep theirs."
    ),
]

SweepCheckpoint = Annotated[
    str | None,
    typer.Option(help="Checkpoint file of an --output export. Default: OUTPUT.checkpoint.json."),
]

SweepResume = Annotated[
    str | None,
    typer.Option(
        help="Continue the export to this output file (or checkpoint) with the "
        "question stored in its checkpoint; running the same command again "
        "does the same."
    ),
]

SweepOverwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Start a new export over an existing --output: a finished export (which "
        "a rerun otherwise leaves alone) or a file that is not an export.",
    ),
]

SweepCheckpointInterval = Annotated[
    float, typer.Option(help="Seconds between checkpoints, at most 3600.", hidden=True)
]

SweepProgress = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Live progress on stderr. Default: only when stderr is a terminal.",
    ),
]

SweepLean = Annotated[
    bool, typer.Option("--lean/--no-lean", hidden=True, help="The lean call path.")
]

SweepSlices = Annotated[
    bool, typer.Option("--slices/--no-slices", hidden=True, help="Time-sliced pagers.")
]

SweepReadAhead = Annotated[
    int | None,
    typer.Option(
        help="Pages each account/region may hold ahead of the ordered merge, for its "
        "read-ahead and its time slices, 0..1000. Default: at most 40 each, within a budget "
        "shared by all pairs; past 256 pages in memory, waiting pages go to a "
        "temporary file."
    ),
]

SweepState = Annotated[
    str | None,
    typer.Option(
        "--state",
        help="Incremental runs: this file remembers where each account/region ended, so "
        "the next run with it writes only events no earlier run wrote (each run looks "
        "again over --lookback for events CloudTrail delivered late). Created if missing.",
    ),
]

SweepLookback = Annotated[
    str | None,
    typer.Option(
        help="With --state: how far before the last run's end each run looks again for "
        "late events (90s, 20m, 2h; 60 s to 7 days). Default 20m: CloudTrail delivers "
        "most events within about 5 minutes, some up to 15.",
    ),
]

SweepFollow = Annotated[
    bool | None,
    typer.Option(
        "--follow",
        help="Catch up, then poll every account/region every --poll-interval and write new "
        "events as they arrive, until Ctrl-C or SIGTERM (then exit 0, --state saved).",
    ),
]

SweepPollInterval = Annotated[
    str | None,
    typer.Option(help="With --follow: time between polls of each pair (30s, 2m). Default 30s."),
]

SweepSettle = Annotated[
    bool | None,
    typer.Option(
        "--settle",
        help="With --follow: hold each event until it is older than --lookback, then write "
        "oldest first across all pairs, like a log. Default: as soon as seen.",
    ),
]

SweepShard = Annotated[
    str | None,
    typer.Option(
        help="Sweep only shard I of N of the account/region pairs (0 <= I < N <= 10000): "
        "I/N; auto/N takes I from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or "
        "AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array job); auto takes I and N from "
        "AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE. `trailsweep plan` shows "
        "which pair goes where.",
    ),
]

SweepVerbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="Log every call (pair, latency, outcome).")
]


@dataclass(frozen=True, slots=True)
class SweepFlags:
    """Every parameter of `trailsweep sweep`, as typer passed it (None: not given)."""

    accounts: str | None
    exclude_accounts: str | None
    regions: str | None
    lookup_attributes: list[str] | None
    where: list[str] | None
    start_time: str | None
    end_time: str | None
    event_category: str | None
    max_items: int | None
    page_size: int | None
    cli_input_json: str | None
    generate_cli_skeleton: str | None
    config: str | None
    role_name: str | None
    external_id: str | None
    session_name: str | None
    profile: str | None
    region: str | None
    endpoint_url: str | None
    rate: float | None
    connect_timeout: float | None
    read_timeout: float | None
    output: str | None
    output_dir: str | None
    part_size: str | None
    part_age: str | None
    compress: str | None
    raw: bool | None
    unordered: bool | None
    summary_json: str | None
    file_mode: str | None
    checkpoint: str | None
    resume: str | None
    overwrite: bool
    checkpoint_interval: float
    progress: bool | None
    lean: bool
    slices: bool
    read_ahead: int | None
    workers: str | None
    state: str | None
    lookback: str | None
    follow: bool | None
    poll_interval: str | None
    settle: bool | None
    shard: str | None
    verbose: bool
    quiet: bool
    log_format: str
