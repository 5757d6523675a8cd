"""Times as users type them: ISO 8601, dates, epoch seconds, ages; all UTC."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trailsweep.base.errors import InputError
from trailsweep.settings.timeparse import format_time, from_epoch, parse_time, to_epoch

NOW = datetime(2026, 11, 24, 12, 30, 0, tzinfo=UTC)
utc_datetimes = st.datetimes(timezones=st.just(UTC))


@pytest.fixture
def tokyo_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with the process's local time zone at UTC+9, so local-time slips show."""
    monkeypatch.setenv("TZ", "JST-9")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2026-11-01T12:00:00Z", datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("2026-11-01T12:00:00z", datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("2026-11-01T14:00:00+02:00", datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("2026-11-01T12:00:00", datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("2026-11-01 12:00:00", datetime(2026, 11, 1, 12, tzinfo=UTC)),
        ("2026-11-01T12:00:00.250Z", datetime(2026, 11, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("  2026-11-01  ", datetime(2026, 11, 1, tzinfo=UTC)),
        ("1793491200", datetime(2026, 11, 1, tzinfo=UTC)),
        ("1793491200.5", datetime(2026, 11, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
        ("253402300799", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("7d", NOW - timedelta(days=7)),
        ("-7d", NOW - timedelta(days=7)),
        ("7D", NOW - timedelta(days=7)),
        ("36h", NOW - timedelta(hours=36)),
        ("30m", NOW - timedelta(minutes=30)),
        ("45s", NOW - timedelta(seconds=45)),
        ("2w", NOW - timedelta(weeks=2)),
        ("0d", NOW),
        ("now", NOW),
        ("NOW", NOW),
    ],
)
def test_accepted_forms(text: str, want: datetime) -> None:
    """Each documented form reads as the UTC instant it names."""
    got = parse_time(text, now=NOW)
    assert got == want
    assert got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        "", "  ", "yesterday", "2026-13-01", "2026-02-30", "2026-11-01T24:00:00", "7 days",
        "7 d", "7y", "+7d", "1.5d", "1e20", "-5", "-1793491200", "253402300800",
        "99999999999999", "9" * 5000, "9" * 5000 + "d", "999999999999w", "\u0667d",
        "\u0661\u0667\u0669\u0663", "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-02:00",
        "2026-11-01T12:00:00Z\n7d", "\ud800",
    ],
)  # fmt: skip
def test_unreadable_times_are_one_line_input_errors(text: str) -> None:
    """Anything else, however odd or out of range, is an InputError naming option and forms."""
    with pytest.raises(InputError) as info:
        parse_time(text, now=NOW, option="--end-time")
    message = str(info.value)
    assert message.startswith("--end-time: cannot read")
    assert "ISO 8601" in message and "epoch seconds" in message and "7d" in message
    assert "\n" not in message and len(message) < 300


def test_epoch_milliseconds_get_a_hint() -> None:
    """A 13-digit epoch is most likely milliseconds, and the message says so."""
    with pytest.raises(InputError, match="milliseconds"):
        parse_time("1793491200000", now=NOW)


def _outcome(text: str) -> datetime | str:
    """The time parse_time reads, or the message of the InputError it raises."""
    try:
        return parse_time(text, now=NOW)
    except InputError as error:
        return str(error)


@given(st.text(max_size=40))
def test_any_text_is_a_utc_time_or_an_input_error(text: str) -> None:
    """No input gives a traceback or a time outside UTC."""
    got = _outcome(text)
    if isinstance(got, str):
        assert got.startswith("--start-time: ") and "\n" not in got
    else:
        assert got.utcoffset() == timedelta(0)


@given(utc_datetimes)
def test_format_then_parse_is_the_same_second(dt: datetime) -> None:
    """format_time writes whole-second ISO 8601 with Z that parse_time reads back."""
    text = format_time(dt)
    assert text.endswith("Z") and len(text) == len("2026-11-01T12:00:00Z")
    assert parse_time(text, now=NOW) == dt.replace(microsecond=0)


@given(utc_datetimes)
def test_epoch_round_trip_floors_to_the_second(dt: datetime) -> None:
    """to_epoch rounds down to whole seconds and from_epoch gives that second back."""
    seconds = to_epoch(dt)
    assert from_epoch(seconds) == dt.replace(microsecond=0)
    assert from_epoch(seconds).tzinfo is UTC


@given(st.datetimes(min_value=datetime(1970, 1, 1), timezones=st.just(UTC)))
def test_epoch_text_reads_as_that_instant(dt: datetime) -> None:
    """Typed epoch seconds, whole or with a fraction, read as the same instant."""
    whole = dt.replace(microsecond=0)
    assert parse_time(str(to_epoch(whole)), now=NOW) == whole
    fraction = f"{to_epoch(whole)}.{dt.microsecond:06d}"
    assert abs(parse_time(fraction, now=NOW) - dt) <= timedelta(microseconds=1)


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)
def test_offsets_are_converted_not_dropped(naive: datetime, minutes: int) -> None:
    """A time with any offset names the same instant in UTC."""
    aware = naive.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    got = parse_time(aware.isoformat(), now=NOW)
    assert got == aware and got.utcoffset() == timedelta(0)


def test_ages_count_back_from_now_in_any_zone() -> None:
    """An age is now minus the age, returned in UTC even when now is not."""
    east_now = NOW.astimezone(timezone(timedelta(hours=9)))
    got = parse_time("36h", now=east_now)
    assert got == NOW - timedelta(hours=36) and got.tzinfo is UTC


@pytest.mark.usefixtures("tokyo_local_time")
def test_naive_datetimes_are_utc_not_local_time() -> None:
    """A naive datetime means UTC everywhere, whatever the machine's time zone."""
    naive = datetime(2026, 11, 1, 12)
    assert to_epoch(naive) == 1793534400
    assert format_time(naive) == "2026-11-01T12:00:00Z"
    assert parse_time("1h", now=naive) == datetime(2026, 11, 1, 11, tzinfo=UTC)
    assert parse_time("2026-11-01T12:00:00", now=NOW) == naive.replace(tzinfo=UTC)


def test_format_time_converts_to_utc_and_drops_fractions() -> None:
    """An aware time in another zone is written as its UTC second, Z-suffixed."""
    east = datetime(2026, 11, 1, 21, 0, 0, 999999, tzinfo=timezone(timedelta(hours=9)))
    assert format_time(east) == "2026-11-01T12:00:00Z"
    assert format_time(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00Z"


def test_to_epoch_rounds_down_before_1970_too() -> None:
    """Half a second before the epoch is epoch second -1, not 0."""
    assert to_epoch(datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)) == -1
    assert to_epoch(datetime(2026, 11, 1, 0, 0, 0, 999999, tzinfo=UTC)) == 1793491200
