"""The `--summary-json` document: a stable, versioned schema for machines.

The README's table "The --summary-json document" lists every field with its type;
tests/test_summary_json.py holds the produced keys to that table, so the two cannot drift.

Decisions:
- `"schema": 1` names the version of this layout (not trailsweep's own version, which is
  `trailsweep_version`). Adding a field keeps the number; renaming, removing or changing
  the meaning or type of one raises it.
- The totals keep the names of the `--log-format json` summary line (SweepReport.as_dict),
  so both say the same thing the same way; the count of pairs is `pairs_total` and `pairs`
  is the list, as `trailsweep status --json` has them.
- Times are ISO 8601 UTC with `Z`, as the NDJSON lines write EventTime.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from trailsweep import SweepReport
from trailsweep.api.coverage import PairState
from trailsweep.settings.config import SweepSettings

SCHEMA_VERSION = 1


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version() -> str:
    try:
        return version("trailsweep")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _listed(value: object) -> object:
    return list(value) if isinstance(value, list | tuple) else value


def _settings(cfg: SweepSettings) -> dict[str, Any]:
    """What decides which events the sweep asks for and how fast: the question and its pace."""
    q = cfg.query
    return {
        # "org"/"all", the list given, or null: left out (the caller's own account, the
        # default region); `pairs` shows what they resolved to.
        "accounts": _listed(cfg.accounts),
        "exclude_accounts": _listed(cfg.exclude_accounts),
        "regions": _listed(cfg.regions),
        "role_name": cfg.role_name,
        "lookup_attributes": [a.to_api() for a in q.attributes],
        "where": [w.text for w in q.where],
        "event_category": "insight" if q.insight else None,
        "max_items": q.max_items,
        "page_size": q.page_size,
        "rate": cfg.rate,
        "output": str(cfg.output) if cfg.output is not None else None,
        "raw": cfg.raw,
        "unordered": cfg.unordered,
    }


def _pair(p: PairState, report: SweepReport) -> dict[str, Any]:
    return {
        **p.as_dict(),
        "complete": p.state == "done" and p.finished,
        "stopped_at_max_items": report.limited and not p.finished,
    }


def summary_document(report: SweepReport, cfg: SweepSettings) -> dict[str, Any]:
    """The `--summary-json` document of a finished (or interrupted) sweep."""
    totals = report.as_dict()
    del totals["failures"]  # written below in the shape of `pairs`
    totals["pairs_total"] = totals.pop("pairs")
    extra: dict[str, Any] = {}
    if report.increment is not None:  # only for --state runs: other documents stay as were
        extra["incremental"] = report.increment.as_dict()
    return {
        "schema": SCHEMA_VERSION,
        "trailsweep_version": _version(),
        "window": {"start": _iso(cfg.query.start), "end": _iso(cfg.query.end)},
        "settings": _settings(cfg),
        **totals,
        "interrupted": report.interrupted,
        "pairs": [_pair(p, report) for p in report.pairs],
        "failures": [_pair(p, report) for p in report.failed],
        **extra,
    }
