"""The emulated organization behaves as a real one: principals keep to their own addresses
and clients, every session key traces to the call that issued it, root never assumes a
role, console sign-ins say whether MFA was used, each service fails with its own error
codes, identifiers have AWS's shapes, and the same seed gives the same organization.

Checked on the ground truth of two days of a four-account organization (every event of
every pair), the rules stated here in the tests' own words."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import orjson
import pytest

from trailsweep.emulator import Emulator

from support import settings

Row = tuple[str, str, dict[str, Any], dict[str, Any]]  # account, region, event, record
OPENERS = ("AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetSessionToken")
TWO_DAYS = 2 * 86400


def organization(**kw: Any) -> list[Row]:
    """Every event of two days of every pair, with its parsed record."""
    emu = Emulator(settings(members=3, suspended=0, events_per_day=400.0, **kw))
    rows = []
    for account in [a.id for a in emu.world.accounts]:
        for region in emu.settings.regions:
            for event in emu.truth(account, region, start=emu.data_now() - TWO_DAYS):
                rows.append((account, region, event, orjson.loads(event["CloudTrailEvent"])))
    return rows


@pytest.fixture(scope="module")
def org() -> list[Row]:
    return organization()


def test_the_organization_is_big_enough_to_judge(org: list[Row]) -> None:
    """Thousands of events, at least 150 event names over at least 30 services."""
    assert len(org) > 5000
    assert len({r["eventName"] for *_, r in org}) >= 150
    assert len({r["eventSource"] for *_, r in org}) >= 30


def test_every_session_key_traces_to_the_call_that_issued_it(org: list[Row]) -> None:
    """An ASIA key is issued by one AssumeRole*/GetSessionToken call of the same pair, in
    its responseElements; each call that carries it comes at or after that call and
    within the hour the credentials last, under the session name it issued and the
    creation time it recorded, from the opener's address and client (unless an AWS
    service opened it)."""
    issued: dict[tuple[str, str, str], dict[str, Any]] = {}
    for account, region, _, r in org:
        if r["eventName"] in OPENERS and r.get("responseElements"):
            key = r["responseElements"]["credentials"]["accessKeyId"]
            assert (account, region, key) not in issued
            issued[(account, region, key)] = r
    used = 0
    for account, region, event, r in org:
        key = r["userIdentity"].get("accessKeyId", "")
        if not key.startswith("ASIA"):
            continue
        used += 1
        assert event["AccessKeyId"] == key
        opener = issued[(account, region, key)]
        assert opener["eventTime"] <= r["eventTime"]
        assert event["EventTime"] - _epoch(opener["eventTime"]) < 3600
        attributes = r["userIdentity"]["sessionContext"]["attributes"]
        assert attributes["creationDate"] == opener["eventTime"]
        if r["userIdentity"]["type"] == "AssumedRole":
            assert (
                r["userIdentity"]["arn"].rsplit("/", 1)[1]
                == (opener["requestParameters"]["roleSessionName"])
            )
        if opener["userIdentity"]["type"] != "AWSService":
            assert (r["sourceIPAddress"], r["userAgent"]) == (
                opener["sourceIPAddress"], opener["userAgent"]
            )  # fmt: skip
    assert used > 1000 and len(issued) > 100


def _epoch(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _principal(r: dict[str, Any]) -> str:
    who = r["userIdentity"]
    if who["type"] == "AssumedRole":
        return str(who["sessionContext"]["sessionIssuer"]["arn"])
    return str(who.get("arn") or who.get("userName") or who.get("invokedBy") or who)


def test_each_principal_keeps_its_own_small_set_of_addresses_and_clients(
    org: list[Row],
) -> None:
    """Per principal at most 4 source addresses and 2 user agents; AWS services (and the
    roles they act through) call from their own name; people never call with a service's
    user agent; the whole organization uses a few hundred addresses, not one per event."""
    ips: dict[str, set[str]] = defaultdict(set)
    agents: dict[str, set[str]] = defaultdict(set)
    for account, _, _, r in org:
        p = f"{account} {_principal(r)}"
        ips[p].add(r["sourceIPAddress"])
        agents[p].add(r["userAgent"])
        who = r["userIdentity"]
        acting = who.get("invokedBy")
        if acting:
            assert r["sourceIPAddress"] == r["userAgent"] == acting
        if who["type"] in ("IAMUser", "Root", "SAMLUser"):
            assert not r["userAgent"].endswith(".amazonaws.com"), r
    assert all(len(s) <= 4 for s in ips.values()), ips
    assert all(len(s) <= 2 for s in agents.values()), agents
    assert len({r["sourceIPAddress"] for *_, r in org}) < 300


def test_root_never_assumes_a_role(org: list[Row]) -> None:
    """Root signs in to the console (rarely) and calls a few IAM reads; never an STS
    session call, and AWS refuses AssumeRole to root anyway."""
    root = [r for *_, r in org if r["userIdentity"]["type"] == "Root"]
    assert root
    assert not [r for r in root if r["eventSource"] == "sts.amazonaws.com"]
    assert not [r for *_, r in org if r["eventName"].startswith("AssumeRole") and (
        r["userIdentity"].get("arn", "").endswith(":root"))]  # fmt: skip


def test_console_logins_are_by_iam_users_and_root_and_say_whether_mfa_was_used(
    org: list[Row],
) -> None:
    """ConsoleLogin: an IAM user or root, no access key, a browser, additionalEventData
    MFAUsed Yes or No (both occur), responseElements ConsoleLogin Success or Failure; a
    failure has errorMessage "Failed authentication"."""
    logins = [r for *_, r in org if r["eventName"] == "ConsoleLogin"]
    assert len(logins) > 20
    for r in logins:
        assert r["userIdentity"]["type"] in ("IAMUser", "Root")
        assert "accessKeyId" not in r["userIdentity"]
        assert r["userAgent"].startswith("Mozilla/5.0")
        assert r["eventType"] == "AwsConsoleSignIn"
        assert r["additionalEventData"]["MFAUsed"] in ("Yes", "No")
        outcome = r["responseElements"]["ConsoleLogin"]
        assert outcome in ("Success", "Failure")
        assert (outcome == "Failure") == (r.get("errorMessage") == "Failed authentication")
    assert {r["additionalEventData"]["MFAUsed"] for r in logins} == {"Yes", "No"}
    assert {r["responseElements"]["ConsoleLogin"] for r in logins} == {"Success", "Failure"}


# The error codes each service may answer, as AWS names them: EC2's "Client." codes,
# IAM's NoSuchEntity, S3's bucket errors; a service answers no other service's codes.
SERVICE_CODES: dict[str, set[str]] = {
    "ec2": {"Client.UnauthorizedOperation", "Client.InvalidInstanceID.NotFound",
            "Client.RequestLimitExceeded"},
    "s3": {"AccessDenied", "NoSuchBucketPolicy", "SlowDown"},
    "iam": {"AccessDenied", "NoSuchEntityException", "Throttling"},
    "sts": {"AccessDenied", "Throttling"},
    "kms": {"AccessDeniedException", "NotFoundException", "ThrottlingException"},
    "lambda": {"AccessDenied", "ResourceNotFoundException", "TooManyRequestsException"},
    "rds": {"AccessDenied", "DBInstanceNotFoundFault", "Throttling"},
    "ssm": {"AccessDeniedException", "ParameterNotFound", "ThrottlingException"},
    "dynamodb": {"AccessDeniedException", "ResourceNotFoundException", "ThrottlingException"},
    "secretsmanager": {"AccessDenied", "ResourceNotFoundException", "ThrottlingException"},
    "cloudformation": {"AccessDenied", "ValidationError", "Throttling"},
    "ecr": {"AccessDeniedException", "RepositoryNotFoundException", "ThrottlingException"},
}  # fmt: skip
FOREIGN = {"Client.UnauthorizedOperation": "ec2", "NoSuchEntityException": "iam",
           "NoSuchBucketPolicy": "s3", "ParameterNotFound": "ssm"}  # fmt: skip


def test_every_error_code_belongs_to_its_service(org: list[Row]) -> None:
    """Failures are a few percent; each code is one its service answers; a failed call
    returns no responseElements; an access-denied message names the service's action."""
    failed = [r for *_, r in org if r.get("errorCode")]
    assert 0.01 < len(failed) / len(org) < 0.08
    for r in failed:
        service = r["eventSource"].split(".")[0]
        code = r["errorCode"]
        if service in SERVICE_CODES:
            assert code in SERVICE_CODES[service], (service, code)
        assert FOREIGN.get(code, service) == service, (service, code)
        assert r["responseElements"] is None
        if "not authorized to perform" in r["errorMessage"]:
            action = r["errorMessage"].split("perform: ", 1)[1].split(" ")[0]
            prefix = {"monitoring": "cloudwatch"}.get(service, service)
            assert action == f"{prefix}:" + re.sub(r"20\d{6}(v\d)?$", "", r["eventName"])
    assert len({r["eventSource"] for r in failed}) > 15


KEY = re.compile(r"(AKIA|ASIA)[A-Z0-9]{16}")
USER_ID = re.compile(r"AIDA[A-Z0-9]{17}")
ROLE_ID = re.compile(r"AROA[A-Z0-9]{17}")
KMS_ARN = re.compile(r"arn:aws:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")
GLOBAL = {"iam.amazonaws.com": "iam.amazonaws.com", "signin.amazonaws.com": "signin.aws.amazon.com"}


def test_identifiers_endpoints_and_resources_have_aws_shapes(org: list[Row]) -> None:
    """Access keys of 20 characters, principal ids of 21, whole KMS key ids; IAM and
    sign-in on their global hosts and in us-east-1 only; each resource of a record is one
    LookupEvents lists for the event (same type, its ARN or name)."""
    for account, region, event, r in org:
        who = r["userIdentity"]
        if "accessKeyId" in who:
            assert KEY.fullmatch(who["accessKeyId"]), who
        if who["type"] == "IAMUser":
            assert USER_ID.fullmatch(who["principalId"]), who
        if who["type"] == "AssumedRole":
            assert ROLE_ID.fullmatch(who["principalId"].split(":")[0]), who
        if r["eventSource"] in GLOBAL:
            assert region == "us-east-1"
            host = r.get("tlsDetails", {}).get("clientProvidedHostHeader")
            assert host in (GLOBAL[r["eventSource"]], None)  # None: an AWS service called
        listed = {(x["ResourceType"], x["ResourceName"]) for x in event["Resources"]}
        for res in r.get("resources", []):
            assert res["ARN"] and res["accountId"] == account
            assert any(t == res["type"] and res["ARN"].endswith(n) for t, n in listed), r
            if res["type"] == "AWS::KMS::Key":
                assert KMS_ARN.fullmatch(res["ARN"]), res


def test_calls_carry_their_own_request_and_response_shapes(org: list[Row]) -> None:
    """No placeholder shapes: AssumeRole carries roleArn, roleSessionName and the
    credentials it issued; Start/StopInstances an instancesSet; CreateAccessKey... every
    call its own parameters, and writes their own responses."""
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for *_, r in org:
        by_name[r["eventName"]].append(r)
        assert not (r["requestParameters"] or {}).get("resourceName")
    ok = [r for r in by_name["AssumeRole"] if not r.get("errorCode")]
    assert ok and all(
        {"roleArn", "roleSessionName"} <= set(r["requestParameters"])
        and {"credentials", "assumedRoleUser"} <= set(r["responseElements"])
        for r in ok
    )  # fmt: skip
    for name in ("StartInstances", "StopInstances"):
        assert all("items" in r["requestParameters"]["instancesSet"] for r in by_name[name])
    assert all("ipPermissions" in r["requestParameters"]
               for r in by_name["AuthorizeSecurityGroupIngress"])  # fmt: skip
    responses = {orjson.dumps(r["responseElements"]) for *_, r in org if r["responseElements"]}
    assert len(responses) > 1000


def test_the_same_seed_is_the_same_organization() -> None:
    """Two emulators of one seed serve the same bytes; another seed, other events."""
    one = Emulator(settings(seed=3, members=1))
    two = Emulator(settings(seed=3, members=1))
    other = Emulator(settings(seed=4, members=1))
    account = one.world.management.id
    start = one.data_now() - 6 * 3600
    first = one.truth(account, "us-east-1", start=start)
    assert first and first == two.truth(account, "us-east-1", start=start)
    assert other.truth(other.world.management.id, "us-east-1", start=start) != first


def test_people_keep_working_hours_and_machines_run_all_week() -> None:
    """With office hours on: each person's calls fall mostly (>= 80 %) in some 9
    consecutive hours of weekdays and seldom (< 12 %) on weekends; a bot's calls spread
    over the whole day (no 9 hours hold 60 % of them)."""
    emu = Emulator(settings(members=0, suspended=0, regions=("us-east-1",), diurnal=True,
                            events_per_day=2500.0))  # fmt: skip
    hours: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    for account in [a.id for a in emu.world.accounts]:
        for e in emu.truth(account, "us-east-1", start=emu.data_now() - 7 * 86400):
            r = orjson.loads(e["CloudTrailEvent"])
            if r["userIdentity"]["type"] == "IAMUser" and "sessionContext" not in r["userIdentity"]:
                weekend = (e["EventTime"] // 86400 + 3) % 7 >= 5  # 1970-01-01: a Thursday
                hours[f"{account} {r['userIdentity']['userName']}"].append(
                    (e["EventTime"] // 3600 % 24, weekend)
                )
    people = {k: v for k, v in hours.items() if k.split()[1] in ("alice", "bob", "dmitri")}
    bots = {k: v for k, v in hours.items() if k.split()[1] in ("terraform", "backup-bot")}
    assert len(people) == 3 and len(bots) == 2
    for name, calls in {**people, **bots}.items():
        weekday = [h for h, weekend in calls if not weekend]
        best = max(sum(1 for h in weekday if (h - start) % 24 < 9) for start in range(24))
        if name in people:
            assert best >= 0.8 * len(weekday) and len(weekday) >= 0.88 * len(calls), name
        else:
            assert best < 0.6 * len(weekday), name
