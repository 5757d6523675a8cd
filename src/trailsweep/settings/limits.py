"""What each number and list option may hold, checked before any call.

Every numeric flag and config key has a `Limit`: a type (whole number or not), a range,
and a unit for the message. A value outside it is an InputError (exit 2) naming the
option, the allowed range and the value, before anything is called or written. Floats
must be finite: nan passes every `<` test and inf every `>=`, so they are refused first.

The ranges, and why:

- ``--max-items`` 1..2**53-1: the count goes into the checkpoint and the summary as a
  JSON number, and 2**53-1 is the largest integer every JSON reader keeps exact (a larger
  one could not even be saved: orjson refuses integers past 64 bits). It is still far
  beyond any CloudTrail history (90 days at 2 calls/s of 50 events is 7.8e8 per pair).
- ``--page-size`` / ``--max-results`` 1..50: LookupEvents' MaxResults (query.build_query).
- ``--read-ahead`` 0..1000 pages per account and region: past spool.SPOOL_BUDGET they wait
  on disk, ~112 KB a page, so 1000 is ~110 MB of disk per pair at most.
- ``--rate`` above 0, at most 100 calls/s per pair: the AWS quota is 2.
- ``--connect-timeout`` / ``--read-timeout`` / ``--checkpoint-interval`` above 0, at most
  3600 s: an hour is past any useful wait (timeouts.py checks the timeouts).
- The emulator's settings (`EMULATOR`): see each entry.

List options (``--accounts``, ``--regions``, the emulator's ``--regions``, and the config
keys that hold lists) refuse an empty value and empty items (`split_list`): an unset shell
variable (``--regions "$REGIONS"``) or a doubled comma (``"$A,$B"`` with B unset) would
otherwise quietly sweep the default instead of what was meant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from trailsweep.base.errors import InputError

MAX_ITEMS = 2**53 - 1
_HOUR = 3600.0
_YEAR = 365 * 86400.0


@dataclass(frozen=True, slots=True)
class Limit:
    """The values a number option takes: low..high, `low_open` if low itself is refused."""

    low: float
    high: float
    unit: str
    integer: bool = False
    low_open: bool = False

    def allowed(self) -> str:
        """The range in words, e.g. 'a whole number from 1 to 50'."""
        kind = "a whole number" if self.integer else "a number"
        low, high = _number(self.low), _number(self.high)
        if self.low_open:
            return f"{kind} above {low} and at most {high} ({self.unit})"
        return f"{kind} from {low} to {high} ({self.unit})"

    def check(self, name: str, value: object, *, code: str | None = None) -> None:
        """InputError naming `name`, the range and the value unless `value` is within it."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{name}: {shown_number(value)} is not {self.allowed()}")
        if self.integer and not isinstance(value, int):
            raise InputError(f"{name}: {shown_number(value)} is not {self.allowed()}")
        low_ok = value > self.low if self.low_open else value >= self.low
        if not (math.isfinite(value) and low_ok and value <= self.high):
            raise InputError(
                f"{name}: {shown_number(value)} is out of range; give {self.allowed()}",
                code=code,
            )


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def shown_number(value: object) -> str:
    """A number for a message: whole up to 40 digits, its first digits and size past that
    (a 5,000-digit value would fill the line, and str() refuses past 4,300 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        sign = "-" if value < 0 else ""
        if abs(value) < 10**4000:
            text = str(abs(value))
            return f"{sign}{text[:12]}... ({len(text)} digits)"
        return f"{sign}a number of about {int(abs(value).bit_length() * math.log10(2))} digits"
    text = str(value) if isinstance(value, int | float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# sweep and lookup-events flags (config keys are these with `_` for `-`).
SWEEP: dict[str, Limit] = {
    "--max-items": Limit(1, MAX_ITEMS, "events", integer=True),
    "--page-size": Limit(1, 50, "events per call, LookupEvents MaxResults", integer=True),
    "--max-results": Limit(1, 50, "LookupEvents MaxResults", integer=True),
    "--read-ahead": Limit(0, 1000, "pages per account and region", integer=True),
    "--rate": Limit(0, 100, "calls/s per account and region", low_open=True),
    "--connect-timeout": Limit(0, _HOUR, "seconds", low_open=True),
    "--read-timeout": Limit(0, _HOUR, "seconds", low_open=True),
    "--checkpoint-interval": Limit(0, _HOUR, "seconds", low_open=True),
}

# `trailsweep emulator` flags and the demo config's [emulator] keys (flag names with `_`).
EMULATOR: dict[str, Limit] = {
    "port": Limit(0, 65535, "0 picks a free one", integer=True),
    "seed": Limit(0, 2**63 - 1, "any seed", integer=True),
    # Every account is made up front: a billion members would fill memory first. An
    # organization's default account quota is 10; large ones reach ~10k.
    "members": Limit(0, 10_000, "member accounts", integer=True),
    "suspended": Limit(0, 10_000, "at most --members", integer=True),
    # An hour of a pair's events is generated at once (emulator/history.py).
    "events_per_day": Limit(0, 1_000_000, "events per day of a normal pair"),
    "insights_per_day": Limit(0, 1_000_000, "Insights events per day of a pair"),
    "skew": Limit(1, 1_000_000, "busiest over quietest pair"),
    "idle_day_share": Limit(0, 1, "a share of days"),
    "retention_days": Limit(1, 3650, "days", integer=True),
    "rate": Limit(0, 1_000_000, "calls/s per pair", low_open=True),
    "burst": Limit(1, 1_000_000, "calls"),
    "latency_ms": Limit(0, _HOUR * 1000, "milliseconds"),
    "jitter_ms": Limit(0, _HOUR * 1000, "milliseconds"),
    "error_rate": Limit(0, 1, "a share of calls"),
    "reset_rate": Limit(0, 1, "a share of calls"),
    "token_ttl": Limit(0, _YEAR, "seconds", low_open=True),
    "credential_ttl": Limit(0, _YEAR, "seconds", low_open=True),
}


def check_emulator(values: Mapping[str, object], prefix: str) -> None:
    """Each known number among `values` (emulator settings by field name) within its
    EMULATOR limit; `prefix` + name is what a message calls it ("--" for flags)."""
    for key, value in values.items():
        limit = EMULATOR.get(key)
        if limit is not None:
            name = f"--{key.replace('_', '-')}" if prefix == "--" else f"{prefix}{key}"
            limit.check(name, value)


def split_list(option: str, text: str) -> list[str]:
    """A comma list as typed; an empty value or an empty item is an InputError."""
    if not text.strip():
        raise InputError(
            f"{option}: the value is empty (an unset variable?); give a comma-separated "
            "list, or leave the option out for its default"
        )
    items = text.split(",")
    if any(not item.strip() for item in items):
        raise InputError(
            f"{option}: {text[:60]!r} has an empty item (a doubled, leading or trailing "
            "comma); give each item once, separated by single commas"
        )
    return items
