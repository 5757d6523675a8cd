"""SweepSettings as a library builds it: keywords, a TOML file, an AWS CLI input document."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trailsweep.base.errors import InputError
from trailsweep.settings.config import SweepSettings

NOW = datetime(2026, 11, 24, 12, 30, 15, tzinfo=UTC)


def test_keywords_build_every_knob_of_the_sweep_command() -> None:
    """Each keyword lands in the settings, checked and in the form the sweep uses."""
    s = SweepSettings.build(
        accounts="111122223333,ou-ab12-cdefgh12", exclude_accounts=["444455556666"],
        regions=["eu-west-1", "us-east-1", "eu-west-1"],
        lookup_attributes=["AttributeKey=Username,AttributeValue=root",
                           {"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}],
        where=["errorCode exists"], start_time="1d", end_time="2h", max_items=7, page_size=9,
        role_name="Audit", external_id="ext-id-1", session_name="me", profile="p",
        region="eu-west-1", endpoint_url="http://127.0.0.1:9", rate=1.5,
        connect_timeout=3, read_timeout=4.5, output="missing-dir/out.ndjson", file_mode=0o640,
        raw=True, unordered=True, lean=False, slices=False, read_ahead=5,
        access_key_id="AKIDEXAMPLE", secret_access_key="secret", now=NOW,
    )  # fmt: skip
    assert s.accounts == ["111122223333", "ou-ab12-cdefgh12"]
    assert s.exclude_accounts == ["444455556666"]
    assert s.regions == ["eu-west-1", "us-east-1"]  # sorted, distinct
    assert [(a.key, a.value) for a in s.query.attributes] == [
        ("Username", "root"), ("EventName", "ConsoleLogin")]  # fmt: skip
    assert [w.text for w in s.query.where] == ["errorCode exists"]
    assert (s.query.start, s.query.end) == (
        NOW.replace(microsecond=0) - timedelta(days=1), NOW - timedelta(hours=2))  # fmt: skip
    assert (s.start_time, s.end_time) == ("1d", "2h")  # as given, for the checkpoint
    assert (s.query.max_items, s.query.page_size, s.query.insight) == (7, 9, False)
    assert (s.role_name, s.external_id, s.session_name) == ("Audit", "ext-id-1", "me")
    assert (s.profile, s.region, s.endpoint_url) == ("p", "eu-west-1", "http://127.0.0.1:9")
    assert (s.rate, s.timeouts.connect, s.timeouts.read) == (1.5, 3.0, 4.5)
    assert (s.output, s.file_mode) == (Path("missing-dir/out.ndjson"), 0o640)
    assert (s.raw, s.unordered, s.lean, s.slices, s.read_ahead) == (True, True, False, False, 5)
    assert (s.access_key_id, s.secret_access_key) == ("AKIDEXAMPLE", "secret")
    assert "secret" not in repr(s)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.rate = 3.0  # type: ignore[misc]


def test_defaults_pin_the_window_at_now() -> None:
    """No keywords: the caller's account and region, 90 days up to the injected now."""
    s = SweepSettings.build(now=NOW)
    assert (s.accounts, s.regions, s.output, s.role_name) == (
        None, None, None, "OrganizationAccountAccessRole")  # fmt: skip
    assert s.query.end == NOW.replace(microsecond=0)
    assert s.query.end - s.query.start == timedelta(days=90)
    assert (s.rate, s.file_mode, s.lean, s.slices, s.read_ahead) == (2.0, 0o600, True, True, None)


def test_a_datetime_window_is_taken_as_given_and_naive_as_utc() -> None:
    """Window ends may be datetimes; a naive one is UTC, not the machine's local time."""
    s = SweepSettings.build(start_time=datetime(2026, 11, 20, 8), end_time=NOW - timedelta(hours=1),
                            now=NOW)  # fmt: skip
    assert s.query.start == datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert s.query.end == NOW - timedelta(hours=1)


@pytest.mark.parametrize(
    ("keywords", "named"),
    [
        ({"page_size": 51}, "--page-size"), ({"max_items": 0}, "--max-items"),
        ({"rate": 0.0}, "--rate"), ({"read_ahead": -1}, "--read-ahead"),
        ({"regions": ["nowhere"]}, "--regions"), ({"accounts": "12"}, "--accounts"),
        ({"accounts": ""}, "--accounts"), ({"regions": [3]}, "--regions"),
        ({"lookup_attributes": [{"AttributeKey": "Colour", "AttributeValue": "x"}]},
         "--lookup-attributes"),
        ({"where": ["no operator"]}, "--where"), ({"start_time": "yesterday"}, "--start-time"),
        ({"start_time": "1h", "end_time": "2h"}, "--start-time"),
        ({"event_category": "data"}, "--event-category"), ({"role_name": "a b"}, "--role-name"),
        ({"region": "mars-1"}, "--region"), ({"endpoint_url": "ftp://x"}, "--endpoint-url"),
        ({"read_timeout": 0}, "--read-timeout"), ({"file_mode": 0o400}, "--file-mode"),
        ({"file_mode": "rw"}, "--file-mode"), ({"raw": "yes"}, "--raw"),
        ({"output": "json"}, "--output"), ({"output": "a\0b"}, "--output"),
    ],
)  # fmt: skip
def test_an_invalid_value_is_an_input_error_naming_it(
    keywords: dict[str, object], named: str
) -> None:
    """One InputError whose message starts with the field's flag (what the CLI prints)."""
    with pytest.raises(InputError) as caught:
        SweepSettings.build(now=NOW, **keywords)  # type: ignore[arg-type]
    assert str(caught.value).startswith(named), str(caught.value)
    assert "\n" not in str(caught.value)


def test_building_touches_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An output in a missing directory and an unknown profile build: those are the
    export's and the session's checks, and the directory stays empty."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    s = SweepSettings.build(output="nowhere/out.ndjson", profile="nobody", now=NOW)
    assert (s.output, s.profile) == (Path("nowhere/out.ndjson"), "nobody")
    assert list(tmp_path.iterdir()) == []


def test_toml_file_and_keywords_build_the_same_settings(tmp_path: Path) -> None:
    """from_toml reads the keys the keywords take (configs/ holds examples)."""
    path = tmp_path / "sweep.toml"
    path.write_text(
        'accounts = "org"\nregions = ["us-east-1"]\nstart_time = "7d"\npage_size = 20\n'
        'lookup_attributes = [{ AttributeKey = "EventName", AttributeValue = "ConsoleLogin" }]\n'
    )
    attribute = {"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}
    assert SweepSettings.from_toml(path, now=NOW) == SweepSettings.build(
        accounts="org", regions="us-east-1", start_time="7d", page_size=20,
        lookup_attributes=[attribute], now=NOW,
    )  # fmt: skip


@pytest.mark.parametrize("yaml", [False, True])
def test_cli_input_documents_build_the_same_settings(yaml: bool) -> None:
    """--cli-input-json and --cli-input-yaml text give what the keywords give."""
    text = (
        "LookupAttributes:\n- AttributeKey: Username\n  AttributeValue: root\n"
        "StartTime: '2026-11-20T00:00:00Z'\nMaxResults: 5\n"
        if yaml
        else '{"LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "root"}],'
        ' "StartTime": "2026-11-20T00:00:00Z", "MaxResults": 5}'
    )
    assert SweepSettings.from_cli_input(text, yaml=yaml, now=NOW) == SweepSettings.build(
        lookup_attributes=['{"AttributeKey":"Username","AttributeValue":"root"}'],
        start_time="2026-11-20T00:00:00Z", page_size=5, now=NOW,
    )  # fmt: skip


@pytest.mark.parametrize("yaml", [False, True])
def test_a_bad_cli_input_value_is_named_by_its_key(yaml: bool) -> None:
    """The document's key is named, not the flag it stands for."""
    text = "MaxResults: 0\n" if yaml else '{"MaxResults": 0}'
    with pytest.raises(InputError) as caught:
        SweepSettings.from_cli_input(text, yaml=yaml, now=NOW)
    source = "--cli-input-yaml" if yaml else "--cli-input-json"
    assert str(caught.value).startswith(f"{source} MaxResults: 0 is out of range")
