"""The question an export asks, as its checkpoint stores it (the checkpoint's `spec`).

Resuming with any part of the question changed would mix two questions in one file, so
the checkpoint keeps it (checkpoint.py hashes it) and `sweep --resume` asks it again
(`options_from_spec`). What only changes how the question is asked (rate, timeouts, the
credentials, read-ahead) is left out: a resume may change it. The shard is part of the
question (another shard is another set of pairs), so a shard's output resumes only as
that shard.
"""

from __future__ import annotations

from typing import Any

import orjson

from trailsweep.settings.config import SweepSettings
from trailsweep.settings.options import Options


def spec_of(settings: SweepSettings) -> dict[str, Any]:
    """The part of a sweep that defines its question. Times are kept as given ("7d"
    stays "7d"); the window they pinned is stored beside (Checkpoint.query)."""
    query = settings.query
    spec: dict[str, Any] = {
        "accounts": settings.accounts,
        "regions": settings.regions,
        "role_name": settings.role_name,
        "external_id": settings.external_id,
        "lookup_attributes": [a.to_api() for a in query.attributes],
        "start_time": settings.start_time,
        "end_time": settings.end_time,
        "event_category": "insight" if query.insight else None,
        "max_items": query.max_items,
        "page_size": query.page_size,
        "raw": settings.raw,
        "unordered": settings.unordered,
    }
    if settings.exclude_accounts:  # only when given, as "where"
        spec["exclude_accounts"] = settings.exclude_accounts
    if query.where:  # only when given: checkpoints from before --where stay valid
        spec["where"] = [w.text for w in query.where]
    if settings.shard is not None:  # only when given: a whole sweep's spec is as it was
        spec["shard"] = str(settings.shard)  # "I/N": `auto` is stored as what it read
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
        shard=spec.get("shard"),
    )
