"""`SweepSettings`: one typed, immutable, checked description of a sweep, and its building.

The values come from keywords (`SweepSettings.build`), a TOML file (options.py), an AWS CLI
input document (cli_input.py, yaml_input.py), or all three and flags overlaid (`Options`,
`SweepSettings.from_options`, what `trailsweep sweep` does). Everything is validated
before any AWS call (docs/design.md invariant 8), and nothing is probed: no file, no
network, no ~/.aws (the export checks its files, the session its profile).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson

from trailsweep.base.errors import InputError
from trailsweep.settings.attributes import parse_lookup_attributes
from trailsweep.settings.checks import (
    OUTPUT_RESERVE,
    check_endpoint,
    check_path,
    check_region,
    parse_file_mode,
    refuse_format_name,
)
from trailsweep.settings.cli_input import as_written, cli_input_json
from trailsweep.settings.limits import SWEEP, split_list
from trailsweep.settings.names import REGION, check_role
from trailsweep.settings.options import MAX_LOOKBACK, MIN_LOOKBACK, Options, load_config
from trailsweep.settings.part_options import DEFAULT_PART_SIZE
from trailsweep.settings.query import Query, QueryInput, build_query
from trailsweep.settings.regions import check_known
from trailsweep.settings.run_flags import check_follow, parts_fields
from trailsweep.settings.s3_url import S3Location
from trailsweep.settings.selection import exclusions, parse_accounts
from trailsweep.settings.shard_input import resolve_shard
from trailsweep.settings.shards import Shard
from trailsweep.settings.timeouts import Timeouts
from trailsweep.settings.timeparse import parse_duration
from trailsweep.settings.workers import parse_workers
from trailsweep.settings.yaml_input import load_cli_input_yaml

__all__ = ["Options", "SweepSettings", "build_config"]


# How far before each pair's mark an incremental run looks again (output/state.py): AWS
# says CloudTrail delivers "within an average of about 5 minutes", some events up to 15;
# the emulator's lag model tops out at 15 minutes, and 20 leaves 5 to spare.
DEFAULT_LOOKBACK = 20 * 60


@dataclass(frozen=True, slots=True)
class SweepSettings:
    """A complete, validated sweep: what to ask, where, as whom, and where to write.

    Build it from keywords, with the values a user types (the flags of `trailsweep
    sweep`, `_` for `-`)::

        settings = SweepSettings.build(accounts="org", regions="all", start_time="7d",
                                       lookup_attributes=["EventName=ConsoleLogin"])

    or from a config file (`SweepSettings.from_toml("sweep.toml")`) or an AWS CLI input
    document (`SweepSettings.from_cli_input(text)`). Every value is checked at once: a bad
    one raises `InputError` naming it by its flag (`--page-size: 99 is out of range ...`),
    before any call. Building touches no file and no network: whether an output can be
    written is the export's check (`output.safe_files.check_writable`), whether a
    profile exists the session's (`settings.checks.check_profile`).
    """

    query: Query
    # None (the caller's account), 'org', or account and OU ids (selection.py).
    accounts: list[str] | Literal["org"] | None = None
    exclude_accounts: list[str] | None = None  # account and OU ids
    regions: list[str] | Literal["all"] | None = None
    role_name: str = "OrganizationAccountAccessRole"
    external_id: str | None = None
    session_name: str = "trailsweep"
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    rate: float = 2.0
    output: Path | None = None
    raw: bool = False
    unordered: bool = False
    lean: bool = True  # False: LookupEvents through aioboto3's client (for benchmarks)
    # Time slices when a pair's latency keeps one NextToken chain under its quota
    # (slices.SlicedPager); False: one chain per pair (for benchmarks).
    slices: bool = True
    # Pages each pair may hold ready beyond the one being fetched; None: as many as a
    # budget shared by all pairs allows (engine.spool.auto_read_ahead).
    read_ahead: int | None = None
    # Per-call limits of every AWS call (timeouts.py): connect and read, in seconds.
    timeouts: Timeouts = field(default_factory=Timeouts)
    # The mode of the files an export creates (output, --summary-json); existing files
    # keep theirs (outfile.py).
    file_mode: int = 0o600
    # Explicit keys instead of the AWS credential chain (the demo, tests); never printed.
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    # The window's ends as given ("7d" stays "7d"): a checkpoint stores them, so that a
    # resumed export asks the same question; the window they pinned is query.start/end.
    start_time: str | None = None
    end_time: str | None = None
    # Incremental runs (output/state.py): the state file, and how far before each pair's
    # mark a run looks again for events delivered late (seconds).
    state: Path | None = None
    lookback: int = DEFAULT_LOOKBACK
    # Follow mode (api/follow.py): poll every pair every `poll_interval` seconds until
    # stopped; `settle`: hold events until older than the look-back, then oldest first.
    follow: bool = False
    poll_interval: int = 30
    settle: bool = False
    # --output-dir: NDJSON in parts closed by size (uncompressed bytes) or age (seconds
    # from a part's first line), optionally compressed (settings/part_options.py).
    output_dir: Path | None = None
    # --output-dir s3://bucket/prefix: the same parts, each put as one object once whole
    # (output/s3_store.py); output_dir is then None.
    output_s3: S3Location | None = None
    part_size: int = DEFAULT_PART_SIZE
    part_age: float | None = None
    compress: str | None = None
    # Processes that sweep the pairs (settings/workers.py; engine/workers.py): 1 this one
    # alone, None `auto`. Not part of the question: a resume may change it.
    workers: int | None = 1
    # --shard: only the pairs of this shard (settings/shards.py assign), or all (None).
    shard: Shard | None = None

    @classmethod
    def build(
        cls, *,
        accounts: str | Sequence[str] | None = None,
        exclude_accounts: str | Sequence[str] | None = None,
        regions: str | Sequence[str] | None = None,
        lookup_attributes: Sequence[str | Mapping[str, str]] | None = None,
        where: str | Sequence[str] | None = None,
        start_time: str | datetime | None = None, end_time: str | datetime | None = None,
        event_category: str | None = None,
        max_items: int | None = None, page_size: int | None = None,
        role_name: str | None = None, external_id: str | None = None,
        session_name: str | None = None,
        profile: str | None = None, region: str | None = None,
        endpoint_url: str | None = None,
        rate: float | None = None,
        connect_timeout: float | None = None, read_timeout: float | None = None,
        output: str | Path | None = None, file_mode: str | int | None = None,
        raw: bool = False, unordered: bool = False,
        lean: bool = True, slices: bool = True, read_ahead: int | None = None,
        output_dir: str | Path | None = None, part_size: str | int | None = None,
        part_age: str | float | None = None, compress: str | None = None,
        access_key_id: str | None = None, secret_access_key: str | None = None,
        state: str | Path | None = None, lookback: str | int | None = None,
        follow: bool = False, poll_interval: str | int | None = None, settle: bool = False,
        workers: str | int = 1,
        shard: str | Shard | None = None, env: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> SweepSettings:  # fmt: skip
        """Settings from keywords, each as a user gives it (a flag's value, or the Python
        value it stands for): lists as a comma list or a sequence, times as text
        (ISO 8601, a date, epoch seconds, an age such as "7d") or a datetime (naive is
        UTC), an attribute as `Key=...,AttributeValue=...`, JSON or a mapping, the file
        mode as octal text ("640") or a number (0o640), the shard as "I/N", "auto/N",
        "auto" or a `Shard` ("auto" reads the engine's variables from `env`, such as
        `os.environ`; none are read unless given). `now` pins the window (default: this
        moment); the rest are the flags of `trailsweep sweep`."""
        _check_kinds(
            raw=raw, unordered=unordered, lean=lean, slices=slices, follow=follow, settle=settle
        )
        opts = Options(
            accounts=_listed("--accounts", accounts),
            exclude_accounts=_listed("--exclude-accounts", exclude_accounts),
            regions=_listed("--regions", regions),
            lookup_attributes=_attribute_items(lookup_attributes),
            where=_listed("--where", where, split=False),
            start_time=_time_text(start_time), end_time=_time_text(end_time),
            event_category=event_category, max_items=max_items, page_size=page_size,
            role_name=role_name, external_id=external_id, session_name=session_name,
            profile=profile, region=region, endpoint_url=endpoint_url, rate=rate,
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            output=None if output is None else str(output),
            file_mode=file_mode if not isinstance(file_mode, int) else _octal(file_mode),
            state=None if state is None else str(state), lookback=lookback,
            follow=follow or None, poll_interval=poll_interval, settle=settle or None,
            raw=raw, unordered=unordered,
            output_dir=None if output_dir is None else str(output_dir),
            part_size=part_size, part_age=part_age, compress=compress,
            shard=str(shard) if isinstance(shard, Shard) else shard,
        )  # fmt: skip
        return cls.from_options(
            opts, now=now, lean=lean, slices=slices, read_ahead=read_ahead, env=env,
            access_key_id=access_key_id, secret_access_key=secret_access_key, workers=workers,
        )  # fmt: skip

    @classmethod
    def from_toml(cls, path: str | Path, *, now: datetime | None = None) -> SweepSettings:
        """Settings from a TOML config file (configs/ holds examples); a file that cannot be
        read or holds an unknown key is a ConfigError, a bad value an InputError."""
        return cls.from_options(load_config(str(path)), now=now)

    @classmethod
    def from_cli_input(
        cls, text: str, *, yaml: bool = False, now: datetime | None = None
    ) -> SweepSettings:
        """Settings from an `--cli-input-json` (or, `yaml=True`, `--cli-input-yaml`)
        document: inline text or file://path, the AWS CLI's LookupEvents keys. A bad value
        is an InputError naming the key (`--cli-input-json MaxResults: ...`)."""
        if yaml:
            given, source = load_cli_input_yaml(text, allow_token=False)[0], "--cli-input-yaml"
        else:
            given, source = cli_input_json(text), "--cli-input-json"
        try:
            return cls.from_options(given, now=now)
        except InputError as err:
            raise as_written(err, given, Options(), source) from None

    @classmethod
    def from_options(
        cls, opts: Options, *, now: datetime | None = None, lean: bool = True,
        slices: bool = True, read_ahead: int | None = None,
        access_key_id: str | None = None, secret_access_key: str | None = None,
        workers: str | int = 1, env: Mapping[str, str] | None = None,
    ) -> SweepSettings:  # fmt: skip
        """Settings from `Options` (a config file, an input document and flags, overlaid):
        every value checked, the window pinned at `now` (default: this moment), a shard of
        "auto" read from `env` (the CLI passes `os.environ`; default: no variables).
        `workers`: how many processes sweep (a number, or "auto"; settings/workers.py), a
        flag of how this run goes rather than of its question, so not in `Options`."""
        if read_ahead is not None:
            SWEEP["--read-ahead"].check("--read-ahead", read_ahead)
        asked = parse_workers(workers)
        settings = _validated(opts, now=datetime.now(UTC) if now is None else now)
        if settings.follow and asked != 1:
            if asked is not None:
                raise InputError(
                    "--workers: a follower runs in one process; drop --workers, or split "
                    "the pairs over followers with --shard"
                )
            asked = 1
        return dataclasses.replace(
            settings, shard=resolve_shard(opts.shard, {} if env is None else env),
            lean=lean, slices=slices, read_ahead=read_ahead, workers=asked,
            access_key_id=access_key_id, secret_access_key=secret_access_key,
        )  # fmt: skip


def _check_kinds(**switches: object) -> None:
    for name, value in switches.items():
        if not isinstance(value, bool):
            raise InputError(f"--{name.replace('_', '-')}: {value!r} is not true or false")


def _listed(
    flag: str, value: str | Sequence[str] | None, *, split: bool = True
) -> list[str] | None:
    """A list keyword as the flag takes it (a comma list) or as a sequence of strings."""
    if value is None:
        return None
    if isinstance(value, str):
        return split_list(flag, value) if split else [value]
    items = list(value)
    if not all(isinstance(v, str) for v in items):
        raise InputError(f"{flag}: expected a string or a list of strings")
    return items


def _attribute_items(items: Sequence[str | Mapping[str, str]] | None) -> list[str] | None:
    """--lookup-attributes items as typed text: mappings as their JSON."""
    if items is None:
        return None
    if isinstance(items, str | Mapping):
        items = [items]
    out: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            out.append(orjson.dumps(dict(item)).decode())
        elif isinstance(item, str):
            out.append(item)
        else:
            raise InputError(
                f"--lookup-attributes: {item!r} is neither Key=...,AttributeValue=... text "
                "nor a mapping {AttributeKey, AttributeValue}"
            )
    return out


def _time_text(value: str | datetime | None) -> str | None:
    """A window end as text parse_time reads; a datetime as its ISO 8601 form."""
    return value.isoformat() if isinstance(value, datetime) else value


def _octal(mode: int) -> str:
    return format(mode, "o") if not isinstance(mode, bool) and mode >= 0 else repr(mode)


def build_config(opts: Options, *, now: datetime) -> SweepSettings:
    """Validate everything and pin the query window (SweepSettings.from_options)."""
    return SweepSettings.from_options(opts, now=now)


def _validated(opts: Options, *, now: datetime) -> SweepSettings:
    """Every value of `opts` checked (InputError naming the first bad one), the window
    pinned at `now`."""
    attributes = parse_lookup_attributes(opts.lookup_attributes or [])
    query = build_query(
        QueryInput(
            lookup_attributes=attributes,
            start_time=opts.start_time,
            end_time=opts.end_time,
            event_category=opts.event_category,
            page_size=opts.page_size,
            max_items=opts.max_items,
            where=list(opts.where or ()),
        ),
        now=now,
    )
    accounts = parse_accounts(opts.accounts, opts.exclude_accounts)
    regions = _names(
        opts.regions, "all", REGION,
        "--regions: {!r} is not a region name (like us-east-1); give names "
        "comma-separated, or 'all' for every enabled region",
    )  # fmt: skip
    if isinstance(regions, list):
        check_known(regions, "--regions")
    if opts.rate is not None:
        SWEEP["--rate"].check("--rate", opts.rate)
    rate = 2.0 if opts.rate is None else float(opts.rate)
    check_role(opts.role_name, opts.session_name, opts.external_id)
    # Where to connect: checked here, before any call, rather than deep in botocore's
    # first one (a traceback there). AWS_* variables are checks.check_environment's.
    if opts.region is not None:
        check_region(opts.region, "--region")
        check_known([opts.region], "--region")
    if opts.endpoint_url is not None:
        check_endpoint(opts.endpoint_url, "--endpoint-url")
    check_follow(opts)
    output = None
    if opts.output is not None and opts.output != "-":
        refuse_format_name(opts.output)
        output = check_path(opts.output, "--output", reserve=OUTPUT_RESERVE)
    parts = parts_fields(opts)
    return SweepSettings(
        query=query, accounts=accounts, exclude_accounts=exclusions(opts.exclude_accounts),
        regions=regions,
        role_name=opts.role_name or "OrganizationAccountAccessRole",
        external_id=opts.external_id, session_name=opts.session_name or "trailsweep",
        profile=opts.profile, region=opts.region, endpoint_url=opts.endpoint_url,
        rate=rate, output=output, raw=bool(opts.raw), unordered=bool(opts.unordered),
        timeouts=Timeouts.of(opts.connect_timeout, opts.read_timeout),
        file_mode=0o600 if opts.file_mode is None else parse_file_mode(opts.file_mode),
        start_time=opts.start_time, end_time=opts.end_time, **parts,
        state=None if opts.state is None else check_path(opts.state, "--state", reserve=8),
        lookback=DEFAULT_LOOKBACK if opts.lookback is None
        else parse_duration(opts.lookback, "--lookback", least=MIN_LOOKBACK, most=MAX_LOOKBACK),
        follow=bool(opts.follow), settle=bool(opts.settle),
        poll_interval=30 if opts.poll_interval is None
        else parse_duration(opts.poll_interval, "--poll-interval", least=1, most=3600),
    )  # fmt: skip


def _names(given: list[str] | None, everything: str, pattern: re.Pattern[str], problem: str) -> Any:
    """None, the word for "everything" ('org', 'all'), or the sorted distinct names, each
    checked against `pattern` (an InputError quoting `problem` otherwise)."""
    if not given:
        return None
    if [g.lower() for g in given] == [everything]:
        return everything
    for name in given:
        if not pattern.match(name):
            raise InputError(problem.format(name))
    return sorted(set(given))
