"""Turning a generated event into the bytes LookupEvents returns, CloudTrailEvent included.

Rendering is the expensive part of serving, so `History` caches what this returns.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from trailsweep.emulator.catalog import ERROR_CODES, USER_AGENTS
from trailsweep.emulator.event import Event
from trailsweep.emulator.world import stable_hash

_MASK = (1 << 64) - 1


class _Bits:
    """Pseudo-random numbers for one event, cut from one blake2b digest of its seed:
    one C call instead of seeding random.Random (which was a fifth of rendering time)."""

    __slots__ = ("pool", "seed", "used")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.pool = 0
        self.used = 512

    def getrandbits(self, k: int) -> int:
        if self.used + k > 512:
            digest = hashlib.blake2b(self.seed.to_bytes(8, "big"), digest_size=64).digest()
            self.pool, self.used = int.from_bytes(digest, "big"), 0
            self.seed = (self.seed + 1) & _MASK
        out = (self.pool >> self.used) & ((1 << k) - 1)
        self.used += k
        return out

    def random(self) -> float:
        return self.getrandbits(53) / (1 << 53)

    def randrange(self, start: int, stop: int | None = None) -> int:
        if stop is None:
            start, stop = 0, start
        return start + self.getrandbits(32) % (stop - start)

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()


@lru_cache(maxsize=4096)
def _hour_prefix(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H:")


def _iso(epoch: int) -> str:
    rest = epoch % 3600
    return f"{_hour_prefix(epoch // 3600)}{rest // 60:02d}:{rest % 60:02d}Z"


@lru_cache(maxsize=65536)
def _principal(prefix: str, account: str, name: str) -> str:
    return f"{prefix}{stable_hash(account, name) % 16**12:012X}"


def _identity(account: str, ev: Event, rng: _Bits) -> dict[str, Any]:
    if ev.username == "root":
        return {
            "type": "Root",
            "principalId": account,
            "arn": f"arn:aws:iam::{account}:root",
            "accountId": account,
        }
    if ev.access_key_id and ev.access_key_id.startswith("ASIA"):
        role = "OrganizationAccountAccessRole" if rng.random() < 0.3 else "GitHubActionsDeploy"
        principal = _principal("AROA", account, role)
        return {
            "type": "AssumedRole",
            "principalId": f"{principal}:{ev.username}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{ev.username}",
            "accountId": account,
            "accessKeyId": ev.access_key_id,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": principal,
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "attributes": {
                    "creationDate": _iso(ev.time - rng.randrange(60, 3600)),
                    "mfaAuthenticated": "false",
                },
            },
        }
    if ev.username:
        ident: dict[str, Any] = {
            "type": "IAMUser",
            "principalId": _principal("AIDA", account, ev.username),
            "arn": f"arn:aws:iam::{account}:user/{ev.username}",
            "accountId": account,
            "userName": ev.username,
        }
        if ev.access_key_id:
            ident["accessKeyId"] = ev.access_key_id
        return ident
    return {"type": "AWSService", "invokedBy": ev.template.source}


def record(account: str, region: str, ev: Event) -> dict[str, Any]:
    """The full CloudTrail record of an event, as CloudTrailEvent carries it.

    The random draws are made in a fixed order (identity, then the fields below in the
    order they appear), so the same event always renders to the same bytes."""
    rng = _Bits(ev.detail)
    t = ev.template
    rec: dict[str, Any] = {
        "eventVersion": "1.09" if not ev.insight else "1.08",
        "userIdentity": _identity(account, ev, rng),
        "eventTime": _iso(ev.time),
        "eventSource": t.source,
        "eventName": t.name,
        "awsRegion": region,
    }
    if ev.insight:
        return rec | _insight_fields(account, ev, rng)
    return rec | _call_fields(account, region, ev, rng, rec["userIdentity"]["type"])


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


def _call_fields(
    account: str, region: str, ev: Event, rng: _Bits, identity_type: str
) -> dict[str, Any]:
    """The rest of a management event's record, after its common head."""
    t = ev.template
    # The address is drawn even for AWS services (which show their own name instead), so
    # every later draw of the event stays where it was.
    ip = (
        f"{rng.randrange(3, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    )
    rec: dict[str, Any] = {
        "sourceIPAddress": t.source if identity_type == "AWSService" else ip,
        "userAgent": USER_AGENTS[rng.randrange(len(USER_AGENTS))],
    }
    if rng.random() < 0.04:
        code, message = ERROR_CODES[rng.randrange(len(ERROR_CODES))]
        rec["errorCode"], rec["errorMessage"] = code, message
    rec["requestParameters"] = (
        {"resourceName": ev.resources[0][1], "maxResults": 1000} if ev.resources else None
    )
    rec["responseElements"] = None if t.read_only else {"requestId": f"{rng.getrandbits(64):016x}"}
    service = t.source.split(".")[0]
    rec |= {
        "requestID": _uuid_like(rng),
        "eventID": ev.event_id,
        "readOnly": t.read_only,
        "eventType": "AwsApiCall" if t.name != "ConsoleLogin" else "AwsConsoleSignIn",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{service}.{region}.amazonaws.com",
        },
    }
    if ev.resources:
        rec["resources"] = [
            {"accountId": account, "type": rt, "ARN": rn if rn.startswith("arn:") else None}
            for rt, rn in ev.resources
        ]
    return rec


def _uuid_like(rng: _Bits) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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
