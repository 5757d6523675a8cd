"""Times as users type them, all UTC: ISO 8601, dates, epoch seconds and ages (7d, 36h).

The AWS CLI takes ISO 8601, dates and epoch seconds for --start-time/--end-time; ages are
ours, because "the last 7 days" is what people mean most often.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_AGE = re.compile(r"^-?(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_EPOCH = re.compile(r"^\d+(\.\d+)?$")
_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z


def _problem(option: str, text: str) -> str:
    return (
        f"{option}: cannot read {text!r} as a time; use ISO 8601 (2026-11-01T12:00:00Z), "
        "a date (2026-11-01), epoch seconds (1793491200) or an age (7d, 36h, 30m)"
    )


def parse_time(text: str, *, now: datetime, option: str = "--start-time") -> datetime:
    """A timezone-aware UTC datetime from what the user typed; InputError if unreadable."""
    from trailsweep.errors import InputError

    value = text.strip()
    if not value:
        raise InputError(_problem(option, text))
    if value.lower() == "now":
        return now.astimezone(UTC)
    age = _AGE.match(value.lower())
    if age:
        try:
            return now.astimezone(UTC) - timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
        except OverflowError:
            raise InputError(_problem(option, text)) from None
    if _EPOCH.match(value):
        seconds = float(value)
        if seconds > _MAX_EPOCH:
            raise InputError(_problem(option, text))
        return from_epoch(seconds)
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise InputError(_problem(option, text)) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(dt: datetime) -> str:
    """ISO 8601 UTC with Z, whole seconds: 2026-11-01T12:00:00Z."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
