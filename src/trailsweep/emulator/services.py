"""STS, Organizations, EC2 DescribeRegions and Account ListRegions: what a sweep needs to
find the organization's accounts and regions and to get into each account.

`calls(world)` counts the requests that reached each of these actions (refused ones too),
so tests can tell how discovery went: e.g. no DescribeRegions and no AssumeRole at all.
"""

from __future__ import annotations

import re
import time
import weakref
from collections import Counter
from typing import Any
from xml.sax.saxutils import escape

import orjson

from trailsweep.emulator.protocol import ApiError, request_id
from trailsweep.emulator.world import (
    ALL_REGIONS,
    KNOWN_REGIONS,
    OPT_IN_REGIONS,
    Account,
    Principal,
    World,
)  # fmt: skip

_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_CALLS: weakref.WeakKeyDictionary[World, Counter[str]] = weakref.WeakKeyDictionary()


def calls(world: World) -> Counter[str]:
    """Requests that reached each action (AssumeRole, ListAccounts, DescribeRegions,
    ListRegions) of this world, whatever their outcome. Requests refused before they get
    here (bad signature, a DescribeRegions in a region not enabled) are not counted."""
    counter = _CALLS.get(world)
    if counter is None:
        counter = _CALLS[world] = Counter()
    return counter


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def concerns(operation: str, caller: Principal, req: dict[str, Any]) -> str:
    """The account a control-plane call is about, for faults scoped to one account
    (`Faults.hang_calls`): AssumeRole the role's account, ListRegions the AccountId asked
    about (the caller's when left out), any other call the caller's."""
    if operation == "AssumeRole":
        parts = str(req.get("RoleArn", "")).split(":")
        return parts[4] if len(parts) == 6 else ""
    if operation == "ListRegions" and isinstance(req.get("AccountId"), str):
        return str(req["AccountId"])
    return caller.account


# AssumeRole's members as STS's API model constrains them: (parameter, member name in
# messages, min length, max length, pattern as AWS prints it, the same for Python). AWS's
# \w is ASCII (Java); the ARN pattern is the model's printable-characters class.
_ARN_CHARS = (
    "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+"
)
_ASSUME_ROLE_MEMBERS = (
    ("RoleArn", "roleArn", 20, 2048, _ARN_CHARS,
     re.compile("[\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]+")),
    ("RoleSessionName", "roleSessionName", 2, 64, "[\\w+=,.@-]*",
     re.compile(r"[\w+=,.@-]*", re.ASCII)),
    ("ExternalId", "externalId", 2, 1224, "[\\w+=,.@:\\/-]*",
     re.compile(r"[\w+=,.@:/-]*", re.ASCII)),
)  # fmt: skip


def _validation(params: dict[str, str]) -> ApiError | None:
    """STS's ValidationError for the members that break their constraints, worded as AWS
    words it ("1 validation error detected: Value 'x y' at 'roleSessionName' failed to
    satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")."""
    problems = []
    for key, member, low, high, shown, pattern in _ASSUME_ROLE_MEMBERS:
        value = params.get(key)
        if value is None:
            continue
        broken = []
        if not pattern.fullmatch(value):
            broken.append(f"Member must satisfy regular expression pattern: {shown}")
        if len(value) > high:
            broken.append(f"Member must have length less than or equal to {high}")
        if len(value) < low:
            broken.append(f"Member must have length greater than or equal to {low}")
        problems += [
            f"Value '{value}' at '{member}' failed to satisfy constraint: {b}" for b in broken
        ]
    if not problems:
        return None
    count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected: "
    return ApiError("ValidationError", count + "; ".join(problems))


def assume_role(world: World, caller: Principal, params: dict[str, str], wall: float) -> str:
    calls(world)["AssumeRole"] += 1
    arn = params.get("RoleArn", "")
    session = params.get("RoleSessionName", "")
    if not arn or not session:
        raise ApiError("ValidationError", "RoleArn and RoleSessionName are required.")
    invalid = _validation(params)
    if invalid is not None:
        raise invalid
    parts = arn.split(":")
    account = parts[4] if len(parts) == 6 else ""
    role = parts[5].removeprefix("role/") if len(parts) == 6 else ""
    target = world.by_id.get(account)
    denied = ApiError(
        "AccessDenied",
        f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {arn}",
        403,
    )
    if (
        target is None
        or target.status != "ACTIVE"
        or role != world.settings.role_name
        or account in world.settings.faults.unassumable_accounts
        or account == world.management.id
    ):
        raise denied
    p = world.issue_session(account, role, session, wall)
    role_id = f"AROA{account[-8:]}EMULATOR"
    return (
        f'<AssumeRoleResponse xmlns="{_STS_NS}"><AssumeRoleResult>'
        f"<Credentials><AccessKeyId>{p.access_key_id}</AccessKeyId>"
        f"<SecretAccessKey>{p.secret_access_key}</SecretAccessKey>"
        f"<SessionToken>{p.session_token}</SessionToken>"
        f"<Expiration>{_iso(p.expires_at or wall)}</Expiration></Credentials>"
        f"<AssumedRoleUser><AssumedRoleId>{role_id}:{escape(session)}</AssumedRoleId>"
        f"<Arn>{escape(p.arn)}</Arn></AssumedRoleUser></AssumeRoleResult>"
        f"<ResponseMetadata><RequestId>{request_id()}</RequestId></ResponseMetadata>"
        "</AssumeRoleResponse>"
    )


def get_caller_identity(caller: Principal) -> str:
    user_id = caller.access_key_id if caller.session_token is None else f"AROA:{caller.arn}"
    return (
        f'<GetCallerIdentityResponse xmlns="{_STS_NS}"><GetCallerIdentityResult>'
        f"<Arn>{escape(caller.arn)}</Arn><UserId>{escape(user_id)}</UserId>"
        f"<Account>{caller.account}</Account></GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{request_id()}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )


def list_accounts(world: World, caller: Principal, req: dict[str, Any]) -> bytes:
    calls(world)["ListAccounts"] += 1
    if caller.account != world.management.id:
        raise ApiError(
            "AccessDeniedException",
            "You don't have permissions to access this resource: call ListAccounts "
            "from the organization's management account.",
        )
    entries = [account_entry(world, a) for a in world.accounts]
    return orjson.dumps(page_of("Accounts", entries, req))


def account_entry(world: World, a: Account) -> dict[str, Any]:
    """An account as Organizations lists it (ListAccounts, ListAccountsForParent)."""
    org = f"o-{world.management.id[:10]}"
    return {
        "Id": a.id,
        "Arn": f"arn:aws:organizations::{world.management.id}:account/{org}/{a.id}",
        "Email": a.email,
        "Name": a.name,
        "Status": a.status,
        "JoinedMethod": "INVITED" if a.id == world.management.id else "CREATED",
        "JoinedTimestamp": a.joined,
    }


def page_of(key: str, items: list[dict[str, Any]], req: dict[str, Any]) -> dict[str, Any]:
    """One page of an Organizations listing: MaxResults 1-20 (default 20), NextToken an
    offset into `items`."""
    size = req.get("MaxResults", 20)
    if type(size) is not int or not 1 <= size <= 20:
        raise ApiError("InvalidInputException", "MaxResults must be between 1 and 20.")
    start = _offset(req.get("NextToken"), "InvalidInputException")
    out: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        out["NextToken"] = f"acct-{start + size}"
    return out


def _offset(token: object, code: str) -> int:
    if token is None:
        return 0
    if isinstance(token, str) and token.startswith(("acct-", "reg-")):
        tail = token.split("-", 1)[1]
        if tail.isdigit():
            return int(tail)
    raise ApiError(code, "The NextToken is not valid.")


def describe_regions(world: World, account: str, params: dict[str, str]) -> str:
    calls(world)["DescribeRegions"] += 1
    enabled = world.enabled_regions(account)
    all_regions = params.get("AllRegions", "false").lower() == "true"
    wanted = {v for k, v in params.items() if k.startswith("RegionName.")}
    items = []
    for region in KNOWN_REGIONS:
        on = region in enabled
        if not (on or all_regions) or (wanted and region not in wanted):
            continue
        status = (
            "opt-in-not-required"
            if region in ALL_REGIONS and on
            else ("opted-in" if on else "not-opted-in")
        )
        items.append(
            f"<item><regionName>{region}</regionName>"
            f"<regionEndpoint>ec2.{region}.amazonaws.com</regionEndpoint>"
            f"<optInStatus>{status}</optInStatus></item>"
        )
    return (
        '<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        f"<requestId>{request_id()}</requestId><regionInfo>{''.join(items)}</regionInfo>"
        "</DescribeRegionsResponse>"
    )


def list_regions(world: World, caller: Principal, req: dict[str, Any]) -> bytes:
    """Account ListRegions. Without AccountId: the caller's own account. With it: only from
    the management account (no delegated admin is modelled), never the caller's own id (AWS
    wants it omitted), and only while the organization trusts the Account Management
    service (`Faults.account_trusted_access`)."""
    calls(world)["ListRegions"] += 1
    size = req.get("MaxResults", 50)
    if type(size) is not int or not 1 <= size <= 50:
        raise ApiError("ValidationException", "MaxResults must be between 1 and 50.")
    named = req.get("AccountId")
    if named is not None:
        if named == caller.account:
            raise ApiError(
                "ValidationException",
                "An account can't specify its own AccountId; omit AccountId to call the "
                "operation for the calling account.",
            )
        if caller.account != world.management.id:
            raise ApiError(
                "AccessDeniedException",
                "Only the organization's management account or a delegated administrator "
                "may specify AccountId.",
                403,
            )
        if not world.settings.faults.account_trusted_access:
            raise ApiError(
                "AccessDeniedException",
                "The organization does not have trusted access enabled for the Account "
                "Management service (account.amazonaws.com).",
                403,
            )
        if named not in world.by_id:
            raise ApiError("ValidationException", f"Unknown account {named}.")
    account = named or caller.account
    enabled = world.enabled_regions(account)
    statuses = set(req.get("RegionOptStatusContains") or ())
    regions = []
    for region in KNOWN_REGIONS:
        if region in enabled:
            status = "ENABLED_BY_DEFAULT" if region not in OPT_IN_REGIONS else "ENABLED"
        else:
            status = "DISABLED"
        if not statuses or status in statuses:
            regions.append({"RegionName": region, "RegionOptStatus": status})
    start = _offset(req.get("NextToken"), "ValidationException")
    out: dict[str, Any] = {"Regions": regions[start : start + size]}
    if start + size < len(regions):
        out["NextToken"] = f"reg-{start + size}"
    return orjson.dumps(out)
