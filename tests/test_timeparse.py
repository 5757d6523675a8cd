"""Times as users type them: ISO 8601, dates, epoch seconds, ages; all UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trailsweep.errors import InputError
from trailsweep.timeparse import format_time, from_epoch, parse_time, to_epoch

NOW = datetime(2026, 11, 24, 12, 30, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2026-11-01T12:00:00Z", datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("2026-11-01T14:00:00+02:00", datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("2026-11-01T12:00:00", datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("2026-11-01 12:00:00", datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("2026-11-01T12:00:00.250Z", datetime(2026, 11, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("1793491200", datetime(2026, 11, 1, tzinfo=UTC)),
        ("1793491200.5", datetime(2026, 11, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("7d", NOW - timedelta(days=7)),
        ("-7d", NOW - timedelta(days=7)),
        ("36h", NOW - timedelta(hours=36)),
        ("30m", NOW - timedelta(minutes=30)),
        ("45s", NOW - timedelta(seconds=45)),
        ("2w", NOW - timedelta(weeks=2)),
        ("now", NOW),
    ],
)
def test_accepted_forms(text: str, want: datetime) -> None:
    """Each documented form reads as the UTC instant it names."""
    got = parse_time(text, now=NOW)
    assert got == want
    assert got.tzinfo is not None


@pytest.mark.parametrize(
    "text", ["", "  ", "yesterday", "2026-13-01", "2026-02-30", "7 days", "1e20", "99999999999999"]
)
def test_unreadable_times_are_one_line_input_errors(text: str) -> None:
    """Anything else is an InputError naming the option and the accepted forms."""
    with pytest.raises(InputError) as info:
        parse_time(text, now=NOW, option="--end-time")
    message = str(info.value)
    assert message.startswith("--end-time: cannot read")
    assert "ISO 8601" in message and "7d" in message
    assert "\n" not in message


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)))  # fmt: skip
def test_format_then_parse_is_the_same_second(dt: datetime) -> None:
    """format_time and parse_time round-trip to the second, as do epochs."""
    whole = dt.replace(microsecond=0)
    assert parse_time(format_time(whole), now=NOW) == whole
    assert from_epoch(to_epoch(whole)) == whole
    assert format_time(whole).endswith("Z")


def test_offsets_are_converted_not_dropped() -> None:
    """A time with an offset names the same instant in UTC."""
    east = datetime(2026, 11, 1, 9, tzinfo=timezone(timedelta(hours=9)))
    assert parse_time(east.isoformat(), now=NOW) == datetime(2026, 11, 1, 0, tzinfo=UTC)
