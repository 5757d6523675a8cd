"""Every file in configs/ loads and validates; flags override a config."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from trailsweep.settings.config import Options, build_config
from trailsweep.settings.options import load_config

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.toml"))
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "path", [p for p in CONFIGS if p.name != "demo.toml"], ids=lambda p: p.name
)
def test_config_file_builds_a_sweep(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each example config is a valid sweep."""
    monkeypatch.chdir(tmp_path)  # outputs are relative; make them writable here
    cfg = build_config(load_config(str(path)), now=NOW)
    assert cfg.query.end == NOW
    assert cfg.query.start < cfg.query.end


def test_examples_cover_single_org_and_attribute() -> None:
    """The three documented shapes are there."""
    names = {p.name for p in CONFIGS}
    assert {"single-account.toml", "org.toml", "console-logins.toml", "demo.toml"} <= names
    org = load_config(str(Path(__file__).parents[1] / "configs" / "org.toml"))
    assert org.accounts == ["org"] and org.regions == ["all"]
    filters = load_config(str(Path(__file__).parents[1] / "configs" / "failed-logins.toml"))
    plan = build_config(filters, now=NOW).query.plan
    assert [a.value for a in plan.pushed] == ["ConsoleLogin", "AssumeRole"]
    assert [w.text for w in plan.where] == ["errorMessage exists", "userIdentity.type exists"]


def test_flags_override_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A flag given on the command line wins over the same key in the file."""
    monkeypatch.chdir(tmp_path)
    base = load_config(str(Path(__file__).parents[1] / "configs" / "org.toml"))
    cfg = build_config(base.overlay(Options(regions=["eu-west-1"], rate=1.0)), now=NOW)
    assert cfg.regions == ["eu-west-1"]
    assert cfg.rate == 1.0
    assert cfg.accounts == "org"


def test_read_ahead_stays_within_the_memory_budget() -> None:
    """Up to 40 pages per pair while 1,600 pages over all pairs allow, then fewer, never < 0."""
    from trailsweep.engine.spool import READ_AHEAD_BUDGET, READ_AHEAD_MAX, auto_read_ahead

    assert READ_AHEAD_MAX == 40
    assert auto_read_ahead(10) == 40
    assert auto_read_ahead(100) == 14
    assert auto_read_ahead(1000) == 0
    # Time-sliced pairs spool what waits: a disk budget, and a few pages even at 1,000.
    assert auto_read_ahead(1000, spooled=True) == 8
    assert auto_read_ahead(100, spooled=True) == 98
    assert auto_read_ahead(10, spooled=True) == 100
    for pairs in (1, 7, 100, 150, 400, 1000, 5000):
        depth = auto_read_ahead(pairs, spooled=True)
        assert 4 <= depth <= 100
        assert depth == 4 or pairs * (depth + 2) <= 10_000
    for pairs in (1, 7, 100, 150, 400, 1000, 5000):
        depth = auto_read_ahead(pairs)
        assert 0 <= depth <= READ_AHEAD_MAX
        assert depth == 0 or pairs * (depth + 2) <= READ_AHEAD_BUDGET
