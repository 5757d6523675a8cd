"""Sweep settings from a TOML file, --cli-input-json and flags (flags win), checked whole.

A config file is flat; its keys are the long flags with `_` for `-`:

    accounts = "org"                # "org", or a list of 12-digit ids and OU ids (ou-...);
                                    # omit: the caller's own
    exclude_accounts = ["111122223333"]  # ids and OU ids left out of accounts
    regions = "all"                 # "all", a list of regions; omit: the default region
    role_name = "OrganizationAccountAccessRole"
    start_time = "7d"
    lookup_attributes = [{ AttributeKey = "EventName", AttributeValue = "ConsoleLogin" }]
    output = "events.ndjson"

Everything is validated before any AWS call (docs/design.md invariant 8).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson

from trailsweep.base.errors import ConfigError, InputError
from trailsweep.settings.attributes import parse_lookup_attributes
from trailsweep.settings.checks import (
    OUTPUT_RESERVE,
    check_endpoint,
    check_path,
    check_profile,
    check_region,
    parse_file_mode,
    read_text_file,
    refuse_format_name,
)
from trailsweep.settings.limits import SWEEP, split_list
from trailsweep.settings.names import REGION, check_role
from trailsweep.settings.query import Query, QueryInput, attributes_from_items, build_query
from trailsweep.settings.regions import check_known
from trailsweep.settings.selection import exclusions, parse_accounts
from trailsweep.settings.timeouts import Timeouts

_NOT_STRINGS = (
    "max_items", "page_size", "rate", "raw", "unordered", "connect_timeout", "read_timeout",
)  # fmt: skip
# The config keys that are numbers, and the flag whose range (limits.SWEEP) they share.
_NUMBERS = {
    "max_items": "--max-items", "page_size": "--page-size", "rate": "--rate",
    "connect_timeout": "--connect-timeout", "read_timeout": "--read-timeout",
}  # fmt: skip


@dataclass(slots=True)
class Options:
    """Every sweep setting as the user gave it; None means "not given here"."""

    accounts: list[str] | None = None
    exclude_accounts: list[str] | None = None
    regions: list[str] | None = None
    role_name: str | None = None
    external_id: str | None = None
    session_name: str | None = None
    profile: str | None = None
    region: str | None = None  # default region for the caller's session
    endpoint_url: str | None = None
    lookup_attributes: list[str] | None = None  # as typed; or JSON text per item
    where: list[str] | None = None  # --where clauses on the CloudTrail record
    start_time: str | None = None
    end_time: str | None = None
    event_category: str | None = None
    max_items: int | None = None
    page_size: int | None = None
    rate: float | None = None
    output: str | None = None
    raw: bool | None = None
    unordered: bool | None = None
    connect_timeout: float | None = None  # seconds per AWS call (timeouts.py)
    read_timeout: float | None = None
    file_mode: str | None = None  # octal, as typed ("640")

    def overlay(self, other: Options) -> Options:
        """Self with every field `other` sets replaced (other wins)."""
        merged = dataclasses.replace(self)
        for f in dataclasses.fields(other):
            value = getattr(other, f.name)
            if value is not None:
                setattr(merged, f.name, value)
        return merged


@dataclass(frozen=True, slots=True)
class SweepSettings:
    """A complete, validated sweep: what to ask, where, as whom, and where to write."""

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
    # budget of READ_AHEAD_BUDGET pages over all pairs allows, at most 12 (auto_read_ahead).
    read_ahead: int | None = None
    # Per-call limits of every AWS call (timeouts.py): connect and read, in seconds.
    timeouts: Timeouts = field(default_factory=Timeouts)
    # The mode of the files an export creates (output, --summary-json); existing files
    # keep theirs (outfile.py).
    file_mode: int = 0o600
    # Explicit keys instead of the AWS credential chain (the demo, tests); never printed.
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)


def _as_list(value: Any, key: str) -> list[str]:
    """A list key as a string ("a,b") or a list; empty values and items are refused
    (limits.split_list says why)."""
    if isinstance(value, str):
        return [v.strip() for v in split_list(key, value)]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        if any(not v.strip() for v in value):
            split_list(key, ",".join(value))  # refuses it, saying why
        return [v.strip() for v in value]
    raise ConfigError(f"{key}: expected a non-empty string or list of strings")


def read_toml(path: str) -> dict[str, Any]:
    """A TOML file as a dict; a missing, unreadable or invalid file is a ConfigError."""
    try:
        text = read_text_file(path, "--config")
    except InputError as err:
        raise ConfigError(str(err)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"--config: {path} is not valid TOML: {err}") from None


def load_config(path: str) -> Options:
    """Options from a TOML config file; unreadable files or unknown keys are a ConfigError."""
    return options_from_mapping(read_toml(path), path)


def options_from_mapping(data: dict[str, Any], path: str) -> Options:
    """Options from a parsed config; every key and type is checked."""
    known = {f.name: f for f in dataclasses.fields(Options)}
    opts = Options()
    for key, value in data.items():
        if key not in known:
            raise ConfigError(
                f"--config: {path}: unknown key {key!r}; known keys: {', '.join(known)}"
            )
        if key in ("accounts", "exclude_accounts", "regions"):
            value = _as_list(value, f"--config: {path}: {key}")
        elif key in ("lookup_attributes", "where") and value == []:
            raise ConfigError(f"--config: {path}: {key} is an empty list; give items or omit it")
        elif key == "lookup_attributes":
            items = value if isinstance(value, list) else [value]
            value = [i if isinstance(i, str) else orjson.dumps(i).decode() for i in items]
        elif key == "where":
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(i, str) for i in items):
                raise ConfigError(f"--config: {path}: where must be a string or list of strings")
            value = list(items)
        elif key in _NUMBERS:
            SWEEP[_NUMBERS[key]].check(f"--config: {path}: {key}", value)
        elif key in ("raw", "unordered") and not isinstance(value, bool):
            raise ConfigError(f"--config: {path}: {key} must be true or false")
        elif key not in _NOT_STRINGS and not isinstance(value, str):
            raise ConfigError(f"--config: {path}: {key} must be a string")
        setattr(opts, key, value)
    return opts


def cli_input_json(text: str) -> Options:
    """Options from `--cli-input-json` (inline JSON or file://path), the AWS CLI's keys."""
    return cli_input_json_with_token(text, allow_token=False)[0]


def cli_input_json_with_token(text: str, *, allow_token: bool) -> tuple[Options, str | None]:
    """Options and NextToken from `--cli-input-json`: lookup-events starts from the token
    (a raw API one, as the AWS CLI takes it); a sweep, which pages every pair itself,
    refuses it."""
    source = "--cli-input-json"
    if text.startswith("file://"):
        text = read_text_file(text[7:], source)
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as err:
        raise InputError(f"{source}: not valid JSON ({err}); see --generate-cli-skeleton") from None
    if not isinstance(doc, dict):
        raise InputError(f"{source}: expected a JSON object; see --generate-cli-skeleton")
    return options_from_input(doc, source, allow_token=allow_token)


def options_from_input(
    doc: dict[str, Any], source: str, *, allow_token: bool
) -> tuple[Options, str | None]:
    """Options and NextToken from a parsed --cli-input-json / --cli-input-yaml document
    (the AWS CLI's keys); `source` names the flag in messages."""
    allowed = {"LookupAttributes", "StartTime", "EndTime", "EventCategory", "MaxResults"}
    unknown = set(doc) - allowed - {"NextToken"}
    if unknown:
        raise InputError(f"{source}: unknown key {sorted(unknown)[0]!r}; known: {sorted(allowed)}")
    token = doc.get("NextToken") or None
    if token is not None and not allow_token:
        raise InputError(
            f"{source}: NextToken belongs to one account and region; a sweep pages itself"
        )
    if token is not None and not isinstance(token, str):
        raise InputError(f"{source}: NextToken must be a string")
    opts = Options()
    if doc.get("LookupAttributes"):
        attrs = doc["LookupAttributes"]
        if not isinstance(attrs, list):
            raise InputError(f"{source}: LookupAttributes must be a list")
        attributes_from_items(attrs)  # shape check now, for a clear message
        opts.lookup_attributes = [orjson.dumps(a).decode() for a in attrs]
    for key, name in (("StartTime", "start_time"), ("EndTime", "end_time")):
        if doc.get(key) is not None:
            if isinstance(doc[key], bool) or not isinstance(doc[key], str | int | float):
                raise InputError(f"{source}: {key} must be a time (ISO 8601 text or epoch seconds)")
            setattr(opts, name, str(doc[key]))
    if doc.get("EventCategory") is not None:
        if not isinstance(doc["EventCategory"], str):
            raise InputError(f"{source}: EventCategory must be a string (insight)")
        opts.event_category = doc["EventCategory"]
    if doc.get("MaxResults") is not None:
        if type(doc["MaxResults"]) is not int:
            raise InputError(f"{source}: MaxResults must be a whole number from 1 to 50")
        opts.page_size = doc["MaxResults"]
    return opts, token


# The flag each key of an input document stands for, as build_config's messages name it.
_INPUT_KEYS = {
    "page_size": ("--page-size", "MaxResults"), "start_time": ("--start-time", "StartTime"),
    "end_time": ("--end-time", "EndTime"), "event_category": ("--event-category", "EventCategory"),
    "lookup_attributes": ("--lookup-attributes", "LookupAttributes"),
}  # fmt: skip


def as_written(err: InputError, given: Options, flags: Options, source: str) -> InputError:
    """`err` (from build_config) naming what the user wrote: a value taken from the
    --cli-input-json/--cli-input-yaml document `given`, no flag overriding it, is named by
    its key there (`--cli-input-yaml MaxResults: 0 is outside 1..50`), not by the flag it
    stands for (`--page-size`), which the user never typed."""
    text = str(err)
    for name, (flag, key) in _INPUT_KEYS.items():
        if getattr(given, name) is not None and getattr(flags, name) is None:
            text = re.sub(rf"(?<![\w-]){flag}(?![\w-])", f"{source} {key}", text)
    return err if text == str(err) else type(err)(text, code=err.code)


def build_config(opts: Options, *, now: datetime) -> SweepSettings:
    """Validate everything and pin the query window."""
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
    check_profile(opts.profile)
    if opts.endpoint_url is not None:
        check_endpoint(opts.endpoint_url, "--endpoint-url")
    output = None
    if opts.output is not None and opts.output != "-":
        refuse_format_name(opts.output)
        output = check_path(opts.output, "--output", reserve=OUTPUT_RESERVE)
        check_writable(output)
    return SweepSettings(
        query=query, accounts=accounts, exclude_accounts=exclusions(opts.exclude_accounts),
        regions=regions,
        role_name=opts.role_name or "OrganizationAccountAccessRole",
        external_id=opts.external_id, session_name=opts.session_name or "trailsweep",
        profile=opts.profile, region=opts.region, endpoint_url=opts.endpoint_url,
        rate=rate, output=output, raw=bool(opts.raw), unordered=bool(opts.unordered),
        timeouts=Timeouts.of(opts.connect_timeout, opts.read_timeout),
        file_mode=0o600 if opts.file_mode is None else parse_file_mode(opts.file_mode),
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


READ_AHEAD_BUDGET = 1600  # pages buffered over all pairs: at most ~180 MB of parsed events
READ_AHEAD_MAX = 40


SPOOLED_BUDGET = 6000  # pages waiting over all pairs when they can wait on disk (~450 MB)
SPOOLED_MIN = 4


def auto_read_ahead(pairs: int, *, spooled: bool = False) -> int:
    """Read-ahead per pair within the memory budget.

    The ordered merge stalls whenever the pair whose page boundary comes next has nothing
    ready. 100 pairs at 2 calls/s, 15 pages each (benchmarks/sweep.py): 4 pages of
    read-ahead used 45% of the quota (2.05x the ideal wall time), 8 used 94% (1.28x), 12
    used 99% (1.08x, the same as --unordered). But a parsed 50-event page is ~112 KB and
    every pair also holds the page being merged and the one in flight: at 1,000 pairs, 4
    pages each meant 600 MB. So: up to READ_AHEAD_MAX while the budget allows, then fewer.
    Time slices (slices.py) share this budget: a pair whose pages take 1 s needs room for
    the slices behind its head, and the merge can hold a pair back while others catch up.
    8 pairs, 1 s pages, ~30 pages each: 12 pages of room used 62% of the quota on the
    busiest pairs (1.68x the ideal wall time), 40 used 97% (1.08x).

    With time slices on, pages that wait past spool.SPOOL_BUDGET go to a temporary file,
    so `spooled` budgets disk instead: at least SPOOLED_MIN pages each (1,000 pairs: 4,
    about 300 MB of disk at most), where memory alone would have left them none.
    """
    if spooled:  # time-sliced pairs: past spool.SPOOL_BUDGET pages, waiting costs disk
        budget = max(SPOOLED_MIN, SPOOLED_BUDGET // max(1, pairs) - 2)
        return min(READ_AHEAD_MAX, budget)
    return max(0, min(READ_AHEAD_MAX, READ_AHEAD_BUDGET // max(1, pairs) - 2))


def check_writable(path: Path, option: str = "--output") -> None:
    """Fail now, before any call, if the output could not be written."""
    try:
        if path.is_dir():
            raise InputError(f"{option}: {path} is a directory; name a file")
        parent = path.parent if str(path.parent) else Path()
        if not parent.is_dir():
            raise InputError(f"{option}: directory {parent} does not exist; create it first")
        if path.exists() and not os.access(path, os.W_OK):
            raise InputError(f"{option}: {path} is not writable; choose another file")
        if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"{option}: cannot create files in {parent}; choose another directory")
    except OSError as err:  # a name too long, a loop of symlinks, no permission to look
        raise InputError(f"{option}: cannot use {path}: {err.strerror}") from None


def spec_of(opts: Options, cfg: SweepSettings) -> dict[str, Any]:
    """The part of a sweep that defines its question, stored in the checkpoint: resuming
    with any of it changed would mix two questions in one file. Times are kept as typed
    ("7d" stays "7d"); the window they pinned is stored beside."""
    spec: dict[str, Any] = {
        "accounts": cfg.accounts,
        "regions": cfg.regions,
        "role_name": cfg.role_name,
        "external_id": cfg.external_id,
        "lookup_attributes": [a.to_api() for a in cfg.query.attributes],
        "start_time": opts.start_time,
        "end_time": opts.end_time,
        "event_category": "insight" if cfg.query.insight else None,
        "max_items": cfg.query.max_items,
        "page_size": cfg.query.page_size,
        "raw": cfg.raw,
        "unordered": cfg.unordered,
    }
    if cfg.exclude_accounts:  # only when given, as "where"
        spec["exclude_accounts"] = cfg.exclude_accounts
    if cfg.query.where:  # only when given: checkpoints from before --where stay valid
        spec["where"] = [w.text for w in cfg.query.where]
    return spec


def options_from_spec(spec: dict[str, Any]) -> Options:
    """Options that ask a stored question again (for `sweep --resume`)."""

    def as_list(value: Any) -> list[str] | None:
        if value is None:
            return None
        return [value] if isinstance(value, str) else [str(v) for v in value]

    return Options(
        accounts=as_list(spec.get("accounts")),
        exclude_accounts=as_list(spec.get("exclude_accounts")),
        regions=as_list(spec.get("regions")),
        role_name=spec.get("role_name"),
        external_id=spec.get("external_id"),
        lookup_attributes=[orjson.dumps(a).decode() for a in spec.get("lookup_attributes") or []],
        where=as_list(spec.get("where")),
        start_time=spec.get("start_time"),
        end_time=spec.get("end_time"),
        event_category=spec.get("event_category"),
        max_items=spec.get("max_items"),
        page_size=spec.get("page_size"),
        raw=spec.get("raw"),
        unordered=spec.get("unordered"),
    )
