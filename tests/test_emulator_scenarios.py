"""Planted attacks (emulator/scenarios.py): each appears with the fields its detonation
shows, where and when GET /_emulator/scenarios says; a sweep through the real client
finds every one; the rule-like checks a detection engineer would write fire on them and
never on the background."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from trailsweep.emulator import Emulator, EmulatorThread
from trailsweep.emulator.scenarios import BY_NAME
from trailsweep.emulator.settings import SCENARIO_NAMES, SettingsError

from inproc import run_here
from support import NOW_EPOCH, aws_env, control, settings

Record = dict[str, Any]
Check = Callable[[Record], bool]
ORG: dict[str, Any] = {"members": 3, "suspended": 1, "regions": ("us-east-1", "eu-west-1")}


def _get(r: Record, path: str) -> Any:
    for part in path.split("."):
        r = r.get(part) if isinstance(r, dict) else None  # type: ignore[assignment]
    return r


def _is(source: str, *names: str) -> Check:
    return lambda r: r["eventSource"] == f"{source}.amazonaws.com" and r["eventName"] in names


def _ok(check: Check) -> Check:
    return lambda r: check(r) and r.get("errorCode") is None


# Per scenario: what its key record shows, as its detonation logs show it (the field
# names and values of the real records), in the tests' own words.
SHOWS: dict[str, Check] = {
    "cloudtrail-stop": lambda r: _is("cloudtrail", "StopLogging")(r)
    and _get(r, "requestParameters.name").startswith("arn:aws:cloudtrail:")
    and r["responseElements"] is None,
    "cloudtrail-delete": lambda r: _is("cloudtrail", "DeleteTrail")(r)
    and bool(_get(r, "requestParameters.name")),
    "cloudtrail-event-selectors": lambda r: _is("cloudtrail", "PutEventSelectors")(r)
    and _get(r, "requestParameters.eventSelectors")[0]["includeManagementEvents"] is False,
    "guardduty-disable": lambda r: _is("guardduty", "DeleteDetector", "UpdateDetector")(r)
    and len(_get(r, "requestParameters.detectorId")) == 32,
    "guardduty-trusted-ipset": _is("guardduty", "CreateIPSet"),
    "vpc-flow-logs-delete": lambda r: _is("ec2", "DeleteFlowLogs")(r)
    and _get(r, "requestParameters.DeleteFlowLogsRequest.FlowLogId.content").startswith("fl-"),
    "config-recorder-stop": _is("config", "StopConfigurationRecorder", "DeleteDeliveryChannel"),
    "ec2-user-data": lambda r: _is("ec2", "ModifyInstanceAttribute")(r)
    and _get(r, "requestParameters.attribute") == "userData"
    and _get(r, "requestParameters.userData") == "<sensitiveDataRemoved>",
    "imds-credentials-outside": lambda r: r["userIdentity"]["type"] == "AssumedRole"
    and r["userIdentity"]["arn"].split("/")[-1].startswith("i-")
    and not r["sourceIPAddress"].endswith("amazonaws.com"),
    "iam-create-admin-user": lambda r: _is("iam", "AttachUserPolicy")(r)
    and _get(r, "requestParameters.policyArn") == "arn:aws:iam::aws:policy/AdministratorAccess",
    "iam-backdoor-user": lambda r: _is("iam", "CreateAccessKey")(r)
    and _get(r, "requestParameters.userName") != r["userIdentity"]["userName"]
    and _get(r, "responseElements.accessKey.accessKeyId").startswith("AKIA"),
    "iam-login-profile": lambda r: _is("iam", "CreateLoginProfile")(r)
    and _get(r, "requestParameters.passwordResetRequired") is False,
    "s3browser-iam-user": lambda r: _is("iam", "CreateUser", "CreateAccessKey")(r)
    and "S3 Browser" in r["userAgent"],
    "kms-import-key-material": _is("kms", "ImportKeyMaterial"),
    "rds-public-restore": lambda r: _is("rds", "RestoreDBInstanceFromDBSnapshot")(r)
    and _get(r, "responseElements.publiclyAccessible") is True,
    "securityhub-findings-suppressed": lambda r: _is("securityhub", "BatchUpdateFindings")(r)
    and _get(r, "requestParameters.workflow.status") == "SUPPRESSED",
    "sso-idp-change": _is("sso-directory", "DisableExternalIdPConfigurationForDirectory",
                          "EnableExternalIdPConfigurationForDirectory"),
    "ssm-send-command": lambda r: _is("ssm", "SendCommand")(r)
    and _get(r, "requestParameters.documentName") == "AWS-RunShellScript",
    "console-login-without-mfa": lambda r: _is("signin", "ConsoleLogin")(r)
    and _get(r, "additionalEventData.MFAUsed") == "No"
    and _get(r, "responseElements.ConsoleLogin") == "Success",
    "ec2-security-group-open-22": lambda r: _is("ec2", "AuthorizeSecurityGroupIngress")(r)
    and _get(r, "requestParameters.ipPermissions.items")[0]["fromPort"] == 22
    and "0.0.0.0/0" in orjson.dumps(r["requestParameters"]).decode(),
    "ec2-share-ebs-snapshot": lambda r: _is("ec2", "ModifySnapshotAttribute")(r)
    and _get(r, "requestParameters.attributeType") == "CREATE_VOLUME_PERMISSION",
    "organizations-leave": lambda r: _is("organizations", "LeaveOrganization")(r)
    and r.get("errorCode") == "AccessDenied" and r["responseElements"] is None,
    "trufflehog-key-check": lambda r: _is("sts", "GetCallerIdentity")(r)
    and r["userAgent"] == "TruffleHog",
}  # fmt: skip

# Rule-like checks of high severity, in the spirit of public CloudTrail detection rules:
# each names what it watches; none should fire on everyday activity.
HIGH: dict[str, Check] = {
    "guardduty detector deleted or disabled": lambda r: _ok(_is("guardduty", "DeleteDetector"))(r)
    or (_ok(_is("guardduty", "UpdateDetector"))(r)
        and _get(r, "requestParameters.enable") is False),
    "guardduty trusted ip set": _is("guardduty", "CreateIPSet"),
    "ssm send command": _ok(_is("ssm", "SendCommand")),
    "vpc flow logs deleted": _ok(_is("ec2", "DeleteFlowLogs")),
    "config recording stopped": _is("config", "StopConfigurationRecorder",
                                    "DeleteDeliveryChannel"),
    "ec2 user data changed": lambda r: _is("ec2", "ModifyInstanceAttribute")(r)
    and _get(r, "requestParameters.attribute") == "userData",
    "iam by s3 browser": lambda r: r["eventSource"] == "iam.amazonaws.com"
    and "S3 Browser" in r["userAgent"],
    "kms key material imported": _is("kms", "ImportKeyMaterial", "DeleteImportedKeyMaterial"),
    "rds cluster changed": _is("rds", "ModifyDBCluster", "DeleteDBCluster"),
    "rds restored public": lambda r: _is("rds", "RestoreDBInstanceFromDBSnapshot")(r)
    and _get(r, "responseElements.publiclyAccessible") is True,
    "security hub findings changed": _is("securityhub", "BatchUpdateFindings", "DeleteInsight",
                                         "UpdateFindings", "UpdateInsight"),
    "identity center idp changed": lambda r: r["eventSource"] in (
        "sso-directory.amazonaws.com", "sso.amazonaws.com") and r["eventName"] in (
        "AssociateDirectory", "DisassociateDirectory",
        "EnableExternalIdPConfigurationForDirectory",
        "DisableExternalIdPConfigurationForDirectory"),
    "login profile updated": _is("iam", "UpdateLoginProfile"),
    "cloudtrail stopped or deleted": _is("cloudtrail", "StopLogging", "DeleteTrail",
                                         "UpdateTrail", "PutEventSelectors"),
}  # fmt: skip


def _records(emu: Emulator, start: int) -> list[tuple[str, str, dict[str, Any], Record]]:
    out = []
    for account in [a.id for a in emu.world.accounts]:
        for region in emu.world.enabled_regions(account):
            for e in emu.truth(account, region, start=start):
                out.append((account, region, e, orjson.loads(e["CloudTrailEvent"])))
    return out


@pytest.fixture(scope="module")
def planted() -> tuple[Emulator, list[tuple[str, str, dict[str, Any], Record]]]:
    emu = Emulator(settings(**ORG, scenarios=SCENARIO_NAMES))
    return emu, _records(emu, emu.data_now() - 2 * 3600)


def test_every_scenario_has_a_technique_and_a_check() -> None:
    """The settings' names are the scenarios', each with a technique id and a check here."""
    assert tuple(BY_NAME) == SCENARIO_NAMES == tuple(SHOWS)
    for s in BY_NAME.values():
        assert s.technique.startswith(("aws.", "T1")) and s.mitre.startswith("T1")


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_each_scenario_appears_where_and_when_it_is_listed(
    name: str, planted: tuple[Emulator, list[tuple[str, str, dict[str, Any], Record]]]
) -> None:
    """Its events are in its account and region, in order, within the 100 minutes before
    the emulator's now, with the event names listed; its key record shows what the
    detonation logs show."""
    emu, rows = planted
    doc = next(d for d in emu.scenario_documents() if d["Name"] == name)
    found = {e["EventId"]: (a, reg, r) for a, reg, e, r in rows if e["EventId"] in doc["EventIds"]}
    assert set(found) == set(doc["EventIds"])
    assert {(a, reg) for a, reg, _ in found.values()} == {(doc["Account"], doc["Region"])}
    records = [found[i][2] for i in doc["EventIds"]]
    assert [r["eventName"] for r in records] == doc["EventNames"]
    assert [r["eventTime"] for r in records] == sorted(r["eventTime"] for r in records)
    now = emu.data_now()
    assert now - 6000 <= doc["StartTime"] <= doc["EndTime"] <= now - 60
    assert any(SHOWS[name](r) for r in records), records


def test_the_background_fires_no_high_severity_check() -> None:
    """Two days of everyday activity, no scenario planted: no high-severity check fires."""
    emu = Emulator(settings(**ORG, events_per_day=400.0))
    rows = _records(emu, emu.data_now() - 2 * 86400)
    assert len(rows) > 3000
    fired = [(rule, r["eventName"]) for *_, r in rows for rule, check in HIGH.items() if check(r)]
    assert fired == []


def test_high_severity_checks_fire_on_planted_events_only(
    planted: tuple[Emulator, list[tuple[str, str, dict[str, Any], Record]]],
) -> None:
    """With every scenario planted: each check fires (but the one no scenario plants),
    and only on planted events."""
    emu, rows = planted
    ids = {i for d in emu.scenario_documents() for i in d["EventIds"]}
    fired: dict[str, set[str]] = {rule: set() for rule in HIGH}
    for _, _, e, r in rows:
        for rule, check in HIGH.items():
            if check(r):
                fired[rule].add(e["EventId"])
    assert [rule for rule, ids in fired.items() if not ids] == ["rds cluster changed"]
    assert set().union(*fired.values()) <= ids


def test_the_listing_and_a_sweep_through_the_client_agree(tmp_path: Any) -> None:
    """GET /_emulator/scenarios lists the named scenarios; a sweep of the organization
    (the real client, over HTTP; the last 4 hours of the wall clock hold the 100 minutes
    before the emulator's now, the top of the hour) writes every planted event."""
    names = ("cloudtrail-stop", "console-login-without-mfa", "imds-credentials-outside")
    with EmulatorThread(settings(**ORG, scenarios=names, faults={"rate": 50.0})) as emu:
        listed = control(emu.emulator.ready_info(), "/_emulator/scenarios")["Scenarios"]
        result = run_here(["sweep", "--accounts", "org", "--regions", "all", "--start-time",
                           "4h", "--rate", "50"], env=aws_env(emu), cwd=str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert sorted(d["Name"] for d in listed) == sorted(names)
    swept = {}
    for line in result.stdout.splitlines():
        event = orjson.loads(line)
        swept[event["EventId"]] = event
    for doc in listed:
        for event_id, name in zip(doc["EventIds"], doc["EventNames"], strict=True):
            assert swept[event_id]["EventName"] == name
            assert swept[event_id]["account"] == doc["Account"]
            assert swept[event_id]["CloudTrailEvent"]["eventID"] == event_id
    assert min(d["StartTime"] for d in listed) >= NOW_EPOCH - 7200


def test_same_seed_same_scenarios_and_unknown_names_are_refused() -> None:
    """The seed decides where and when; an unknown name is a settings error naming it."""
    one = Emulator(settings(**ORG, scenarios=SCENARIO_NAMES))
    two = Emulator(settings(**ORG, scenarios=SCENARIO_NAMES))
    other = Emulator(settings(**ORG, seed=8, scenarios=SCENARIO_NAMES))
    assert one.scenario_documents() == two.scenario_documents()
    assert one.scenario_documents() != other.scenario_documents()
    with pytest.raises(SettingsError, match="unknown scenario 'nope'"):
        settings(scenarios=("nope",))


def test_the_emulator_command_refuses_an_unknown_scenario() -> None:
    """`trailsweep emulator --scenarios nope`: one line naming it and the known ones, exit 2,
    nothing served."""
    result = run_here(["emulator", "--scenarios", "cloudtrail-stop,nope"])
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "--scenarios: unknown scenario 'nope'" in lines[0]
    assert "cloudtrail-stop" in lines[0] and result.stdout == b""
