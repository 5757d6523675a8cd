"""Times as users type them, all UTC: ISO 8601, dates, epoch seconds and ages (7d, 36h).

The AWS CLI takes ISO 8601, dates and epoch seconds for --start-time/--end-time, all UTC;
ages are ours, because "the last 7 days" is what people mean most often. A naive datetime,
typed or passed in, is taken as UTC, never as the machine's local time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from trailsweep.base.errors import InputError

_AGE = re.compile(r"-?([0-9]{1,12})([smhdw])", re.ASCII | re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_EPOCH = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
_EPOCH_ZERO = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z
_SHOWN = 60  # characters of the user's text quoted back in a message


def _problem(option: str, text: str, hint: str = "") -> InputError:
    shown = text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
    return InputError(
        f"{option}: cannot read {shown!r} as a time{hint}; use ISO 8601 (2026-11-01T12:00:00Z), "
        "a date (2026-11-01), epoch seconds (1793491200) or an age (7d, 36h, 30m)"
    )


def _utc(dt: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken as UTC already."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def parse_time(text: str, *, now: datetime, option: str = "--start-time") -> datetime:
    """A timezone-aware UTC datetime from what the user typed; InputError if unreadable.

    Ages (``7d``, ``-36h``) count back from ``now``; ``now`` is ``now`` itself.
    """
    value = text.strip()
    try:
        if value.lower() == "now":
            return _utc(now)
        if age := _AGE.fullmatch(value):
            seconds = int(age.group(1)) * _UNITS[age.group(2).lower()]
            return _utc(now) - timedelta(seconds=seconds)
        if _EPOCH.fullmatch(value):
            epoch = Decimal(value)  # exact: a float loses microseconds past year 2242
            if epoch < _MAX_EPOCH + 1:
                micros = round(epoch % 1 * 1_000_000)
                return _EPOCH_ZERO + timedelta(seconds=int(epoch), microseconds=micros)
            millis = 10**12 <= epoch <= _MAX_EPOCH * 1000
            raise _problem(option, text, " (epoch milliseconds? give seconds)" if millis else "")
        return _utc(datetime.fromisoformat(value.replace("z", "Z")))
    except (ValueError, ArithmeticError):  # ArithmeticError covers OverflowError
        raise _problem(option, text) from None


def format_time(dt: datetime) -> str:
    """ISO 8601 UTC with Z, whole seconds (truncated): 2026-11-01T12:00:00Z."""
    return _utc(dt).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def to_epoch(dt: datetime) -> int:
    """Whole epoch seconds of an instant, rounded down (as LookupEvents takes them)."""
    return (_utc(dt) - _EPOCH_ZERO) // timedelta(seconds=1)


def from_epoch(seconds: float) -> datetime:
    """The UTC datetime of epoch seconds (fractions kept to the microsecond)."""
    return _EPOCH_ZERO + timedelta(seconds=seconds)


_DURATION = re.compile(r"([0-9]{1,9})([smhd]?)", re.ASCII | re.IGNORECASE)


def parse_duration(text: str | float, option: str, *, least: float = 1, most: float) -> int:
    """Whole seconds from "90s", "20m", "2h", "1d" or plain seconds ("1200", 1200);
    InputError naming `option` unless `least` <= value <= `most`."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    elif isinstance(text, str) and (m := _DURATION.fullmatch(text.strip())):
        seconds = float(int(m.group(1)) * _UNITS[(m.group(2) or "s").lower()])
    else:
        shown = str(text)[:_SHOWN]
        raise InputError(
            f"{option}: cannot read {shown!r} as a duration; give seconds (1200) or an "
            "amount with a unit (90s, 20m, 2h, 1d)"
        )
    if not least <= seconds <= most:
        raise InputError(
            f"{option}: {text} is out of range; give {int(least)} s to {int(most)} s "
            f"({int(most) // 60} minutes)"
        )
    return int(seconds)
