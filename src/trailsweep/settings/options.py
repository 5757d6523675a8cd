"""The sweep's settings as the user gave them (`Options`), and the TOML file that gives them.

A config file is flat; its keys are the long flags of `trailsweep sweep` with `_` for `-`:

    accounts = "org"                # "org", or a list of 12-digit ids and OU ids (ou-...);
                                    # omit: the caller's own
    exclude_accounts = ["111122223333"]  # ids and OU ids left out of accounts
    regions = "all"                 # "all", a list of regions; omit: the default region
    role_name = "OrganizationAccountAccessRole"
    start_time = "7d"
    lookup_attributes = [{ AttributeKey = "EventName", AttributeValue = "ConsoleLogin" }]
    output = "events.ndjson"

Sources overlay: a config file, then an input document (cli_input.py), then flags (flags
win); `SweepSettings.from_options` checks the result whole (docs/design.md invariant 8).
Here only each key's kind is checked, to name the file and key in the message.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from typing import Any

import orjson

from trailsweep.base.errors import ConfigError, InputError
from trailsweep.settings.checks import read_text_file
from trailsweep.settings.limits import SWEEP, split_list
from trailsweep.settings.part_options import parse_part_age, parse_part_size
from trailsweep.settings.shard_input import check_shard_text
from trailsweep.settings.timeparse import parse_duration

_NOT_STRINGS = (
    "max_items", "page_size", "rate", "raw", "unordered", "connect_timeout", "read_timeout",
    "lookback", "follow", "poll_interval", "settle",
)  # fmt: skip
# --lookback's range in seconds (settings.config.DEFAULT_LOOKBACK says how it is sized):
# a minute at least, a week at most.
MIN_LOOKBACK, MAX_LOOKBACK = 60, 7 * 86400
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
    state: str | None = None  # the state file of incremental runs (output/state.py)
    lookback: str | int | None = None  # "20m", or seconds
    follow: bool | None = None  # keep polling (api/follow.py)
    poll_interval: str | int | None = None  # "30s", or seconds
    settle: bool | None = None  # a follower writes events once older than the look-back
    output_dir: str | None = None  # NDJSON in parts (part_options.py)
    part_size: str | int | None = None  # bytes, or "64MiB"
    part_age: str | float | None = None  # seconds, or "5m"
    compress: str | None = None  # gz or zst
    shard: str | None = None  # I/N, auto/N or auto (shard_input.py)

    def overlay(self, other: Options) -> Options:
        """Self with every field `other` sets replaced (other wins)."""
        merged = dataclasses.replace(self)
        for f in dataclasses.fields(other):
            value = getattr(other, f.name)
            if value is not None:
                setattr(merged, f.name, value)
        return merged


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
        elif key == "part_size":
            parse_part_size(value, f"--config: {path}: {key}")
        elif key == "part_age":
            parse_part_age(value, f"--config: {path}: {key}")
        elif key == "shard":
            check_shard_text(value, f"--config: {path}: {key}")
        elif key in ("lookback", "poll_interval"):  # seconds, or a duration ("20m")
            least, most = (MIN_LOOKBACK, MAX_LOOKBACK) if key == "lookback" else (1, 3600)
            try:
                parse_duration(value, f"--config: {path}: {key}", least=least, most=most)
            except InputError as err:
                raise ConfigError(str(err)) from None
        elif key in ("raw", "unordered", "follow", "settle") and not isinstance(value, bool):
            raise ConfigError(f"--config: {path}: {key} must be true or false")
        elif key not in _NOT_STRINGS and not isinstance(value, str):
            raise ConfigError(f"--config: {path}: {key} must be a string")
        setattr(opts, key, value)
    return opts
