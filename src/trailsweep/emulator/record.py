"""A management event's CloudTrail record: who (the actor's identity and origin), what (the
call's shapes, shapes.py) and how it ended (success, or one of its service's errors).

Field order and contents follow the records AWS writes: a failed call has errorCode and
errorMessage and no responseElements (ConsoleLogin excepted: AWS writes
{"ConsoleLogin": "Failure"} with the message "Failed authentication"); calls made by an
AWS service (service-linked roles, a service assuming a role) come from the service's
name rather than an address, and carry no tlsDetails.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from trailsweep.emulator.activity import session_values
from trailsweep.emulator.bits import Bits, iso
from trailsweep.emulator.cast import Actor
from trailsweep.emulator.catalog import (
    CONSOLE_LOGIN,
    SESSION_TEMPLATES,
    action_of,
    errors_of,
)  # fmt: skip
from trailsweep.emulator.event import Event
from trailsweep.emulator.shapes import Ctx
from trailsweep.emulator.template import GLOBAL_HOSTS, Template

ERROR_SHARE = 0.03  # of background calls that fail
CONSOLE_FAILURE_SHARE = 0.08  # of console sign-ins by people that fail
_OPENERS = frozenset(SESSION_TEMPLATES.values())
_TLS = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"}


def event_ctx(
    account: str, region: str, t: Template, detail: int, time: int, actor: Actor | None,
    session: tuple[str, int] | None, fixed: Mapping[str, Any] | None,
) -> Ctx:  # fmt: skip
    """The shape values of one event: drawn from its detail seed, the session's when it
    opens one, the planted values of a scenario's event."""
    c = Ctx(account, region, detail, time)
    if actor is not None:
        if session is not None and t in _OPENERS:
            c.update(session_values(account, region, actor, session[0], session[1]))
        if t is CONSOLE_LOGIN:
            c["mfa_used"] = "Yes" if actor.mfa else "No"
    if fixed is not None:
        c.update(fixed.get("values", {}))
    return c


def lookup_resources(t: Template, c: Ctx) -> tuple[tuple[str, str], ...]:
    """LookupEvents' Resources of a call: (type, name) of each of its resources."""
    return tuple((rtype, c[name]) for rtype, name, _ in t.res)


@lru_cache(maxsize=4096)
def _role_identity(account: str, actor: Actor, session: tuple[str, int]) -> dict[str, Any]:
    """The identity of a role session's calls (the same for each: cached, never changed)."""
    role = actor.role or ""
    ident: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"{actor.principal_id}:{actor.name}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{actor.name}",
        "accountId": account,
        "accessKeyId": session[0],
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": actor.principal_id,
                "arn": f"arn:aws:iam::{account}:role{actor.role_path}{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": iso(session[1]), "mfaAuthenticated": "false"},
        },
    }
    if actor.kind == "ci":
        ident["sessionContext"]["webIdFederationData"] = {
            "federatedProvider": f"arn:aws:iam::{account}:oidc-provider/"
            "token.actions.githubusercontent.com",
            "attributes": {},
        }
    if actor.invoked_by:
        ident["invokedBy"] = actor.invoked_by
    return ident


def _opener_identity(account: str, actor: Actor, c: Ctx) -> dict[str, Any]:
    """Who calls the call that opens a session."""
    if actor.session == "AssumeRoleWithSAML":
        return {
            "type": "SAMLUser", "principalId": f"{c['saml_id']}:{actor.name}",
            "userName": actor.name, "identityProvider": c["saml_id"],
        }  # fmt: skip
    if actor.session == "AssumeRoleWithWebIdentity":
        return {
            "type": "WebIdentityUser",
            "principalId": f"{c['oidc_provider']}:sts.amazonaws.com:{actor.caller}",
            "userName": actor.caller, "identityProvider": c["oidc_provider"],
        }  # fmt: skip
    if actor.caller_id:  # a user of another account (the management account's admin)
        return {"type": "AWSAccount", "principalId": actor.caller_id, "accountId": actor.caller}
    return {"type": "AWSService", "invokedBy": actor.caller}


def identity(account: str, ev: Event, actor: Actor, c: Ctx) -> dict[str, Any]:
    """The record's userIdentity."""
    t, session = ev.template, ev.session
    if actor.kind == "root":
        return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root",
                "accountId": account}  # fmt: skip
    if t in _OPENERS and actor.session != "GetSessionToken":
        return _opener_identity(account, actor, c)
    if actor.role is not None and session is not None:
        return _role_identity(account, actor, session)
    ident: dict[str, Any] = {
        "type": "IAMUser", "principalId": actor.principal_id,
        "arn": f"arn:aws:iam::{account}:user/{actor.name}", "accountId": account,
    }  # fmt: skip
    if t is not CONSOLE_LOGIN:
        in_session = session is not None and t not in _OPENERS
        ident["accessKeyId"] = session[0] if in_session and session else actor.access_key
    ident["userName"] = actor.name
    if session is not None and t not in _OPENERS and t is not CONSOLE_LOGIN:
        ident["sessionContext"] = {
            "attributes": {"creationDate": iso(session[1]), "mfaAuthenticated": "true"}
        }
    return ident


def _service_acting(ev: Event, actor: Actor) -> str | None:
    """The AWS service a call comes from, if a service makes it."""
    if ev.template in _OPENERS and actor.caller and actor.caller.endswith(".amazonaws.com"):
        return actor.caller
    return actor.invoked_by


def _error(ev: Event, actor: Actor, c: Ctx, rng: Bits, arn: str) -> tuple[str, str] | None:
    """The call's error, if it failed: a scenario's given one, or drawn from its service's."""
    t = ev.template
    if ev.fixed is not None:
        given = ev.fixed.get("error")
        c["caller_arn"] = arn
        return None if given is None else (str(given[0]), str(given[1]).format_map(c))
    draw = rng.random()
    if t is CONSOLE_LOGIN:
        failed = actor.kind == "user" and draw < CONSOLE_FAILURE_SHARE
        return ("Failed authentication", "Failed authentication") if failed else None
    if t in _OPENERS or draw >= ERROR_SHARE:
        return None
    denied, missing, throttled = errors_of(t.service)
    pick = rng.random()
    if missing is not None and pick < 0.3:
        return missing[0], missing[1].format_map(c)
    if pick > 0.9:
        return throttled, "Rate exceeded"
    if t.service == "s3":
        return denied, "Access Denied"
    action = action_of(t)
    message = (
        f"User: {arn} is not authorized to perform: {action} because no identity-based "
        f"policy allows the {action} action"
    )
    if t.service == "ec2":
        message = f"You are not authorized to perform this operation. {message}"
    return denied, message


def _origin(ev: Event, actor: Actor, rng: Bits) -> tuple[str, str]:
    """The call's sourceIPAddress and userAgent: a service's own name, or one of the
    actor's addresses and clients, the same for every call of one session (people: the
    browser to sign in, the CLI otherwise)."""
    service = _service_acting(ev, actor)
    pick = rng.getrandbits(16)
    if service is not None:
        return service, service
    if ev.session is not None and ev.template is not CONSOLE_LOGIN:
        pick = int(ev.session[0][4:10], 36)  # the key's letters: one choice per session
    ip = actor.ips[pick % len(actor.ips)]
    if ev.template is CONSOLE_LOGIN:
        return ip, actor.agents[-1]
    if actor.kind == "user":
        return ip, actor.agents[0]
    return ip, actor.agents[(pick >> 4) % len(actor.agents)]


@lru_cache(maxsize=4096)
def _tls(t: Template, region: str) -> dict[str, str]:
    """tlsDetails of a call in a region (cached, never changed)."""
    host = GLOBAL_HOSTS.get(t.source) or f"{t.service}.{region}.amazonaws.com"
    return _TLS | {"clientProvidedHostHeader": host}


def call_record(account: str, region: str, ev: Event, c: Ctx, rng: Bits) -> dict[str, Any]:
    """The record of a management event (not an Insights one)."""
    t, actor = ev.template, ev.actor
    assert actor is not None
    who = identity(account, ev, actor, c)
    ip, agent = _origin(ev, actor, rng)
    rec: dict[str, Any] = {
        "eventVersion": "1.08" if t is CONSOLE_LOGIN else "1.09",
        "userIdentity": who,
        "eventTime": iso(ev.time),
        "eventSource": t.source,
        "eventName": t.name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
    }
    error = _error(ev, actor, c, rng, who.get("arn", ""))
    if error is not None:
        if t is not CONSOLE_LOGIN:
            rec["errorCode"] = error[0]
        rec["errorMessage"] = error[1]
    rec["requestParameters"] = t.request(c) if t.request is not None else None
    if t is CONSOLE_LOGIN:
        rec["responseElements"] = {"ConsoleLogin": "Failure" if error else "Success"}
        if error:
            c["mfa_used"] = "No"
    else:
        success = error is None and t.response is not None
        rec["responseElements"] = t.response(c) if success and t.response else None
    if t.additional is not None:
        rec["additionalEventData"] = t.additional(c)
    h = f"{rng.getrandbits(128):032x}"
    rec["requestID"] = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    rec["eventID"] = ev.event_id
    rec["readOnly"] = t.read_only
    if t.record_resources:
        rec["resources"] = [
            {"accountId": account, "type": rtype, "ARN": c[arn]}
            for rtype, _, arn in t.res
            if arn is not None
        ]
    rec["eventType"] = "AwsConsoleSignIn" if t is CONSOLE_LOGIN else "AwsApiCall"
    rec["managementEvent"] = True
    rec["recipientAccountId"] = account
    if who["type"] == "AWSAccount":
        rec["sharedEventID"] = c["uuid"]
    rec["eventCategory"] = "Management"
    if _service_acting(ev, actor) is None:
        rec["tlsDetails"] = _tls(t, region)
    return rec
