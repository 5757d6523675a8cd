"""Turning a generated event into the bytes LookupEvents returns, CloudTrailEvent included.

Rendering is the expensive part of serving, so `History` caches what this returns.
"""

from __future__ import annotations

from typing import Any

import orjson

from trailsweep.emulator.bits import Bits as _Bits
from trailsweep.emulator.bits import iso as _iso
from trailsweep.emulator.event import Event
from trailsweep.emulator.record import call_record, event_ctx, lookup_resources
from trailsweep.emulator.world import stable_hash

__all__ = ["api_event", "event_ctx", "lookup_resources", "record", "render_event"]


def record(account: str, region: str, ev: Event) -> dict[str, Any]:
    """The full CloudTrail record of an event, as CloudTrailEvent carries it.

    The random draws are made in a fixed order (origin, error, request id), so the same
    event always renders to the same bytes."""
    rng = _Bits(ev.detail)
    t = ev.template
    if ev.insight or ev.actor is None:
        return {
            "eventVersion": "1.08",
            "userIdentity": {"type": "AWSService", "invokedBy": t.source},
            "eventTime": _iso(ev.time),
            "eventSource": t.source,
            "eventName": t.name,
            "awsRegion": region,
        } | _insight_fields(account, ev, rng)
    c = event_ctx(account, region, t, ev.detail, ev.time, ev.actor, ev.session, ev.fixed)
    return call_record(account, region, ev, c, rng)


def _insight_fields(account: str, ev: Event, rng: _Bits) -> dict[str, Any]:
    """The rest of an Insights record, after its common head."""
    t = ev.template
    return {
        "eventID": ev.event_id,
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": account,
        "sharedEventID": f"{stable_hash(ev.event_id) % 16**12:012x}-insight",
        "insightDetails": {
            "state": "Start",
            "eventSource": t.source,
            "eventName": t.name,
            "insightType": "ApiCallRateInsight",
            "insightContext": {
                "statistics": {
                    "baseline": {"average": round(rng.uniform(0.01, 2), 4)},
                    "insight": {"average": round(rng.uniform(5, 80), 4)},
                }
            },
        },
        "eventCategory": "Insight",
    }


def api_event(account: str, region: str, ev: Event) -> dict[str, Any]:
    """The event as an element of LookupEvents' `Events` list (EventTime in epoch seconds)."""
    out: dict[str, Any] = {"EventId": ev.event_id, "EventName": ev.template.name}
    if not ev.insight:
        out["ReadOnly"] = "true" if ev.template.read_only else "false"
    if ev.access_key_id:
        out["AccessKeyId"] = ev.access_key_id
    out["EventTime"] = ev.time
    out["EventSource"] = ev.template.source
    if ev.username:
        out["Username"] = ev.username
    out["Resources"] = [{"ResourceType": rt, "ResourceName": rn} for rt, rn in ev.resources]
    out["CloudTrailEvent"] = orjson.dumps(record(account, region, ev)).decode()
    return out


def render_event(account: str, region: str, ev: Event) -> bytes:
    return orjson.dumps(api_event(account, region, ev))
