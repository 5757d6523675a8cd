"""Planted attacks: the techniques that management events show, each done once, at a seeded
time in a seeded account and region, by a plausible principal.

Each scenario names its technique (a Stratus Red Team id where Stratus has one, else the
MITRE ATT&CK id) and the calls it makes, in order. Who does them (`Scenario.by`):

- key: a person's long-term access key (bob's), used from an address and a client bob
  never uses;
- s3browser / trufflehog: a key used by S3 Browser (bob's) or checked by TruffleHog
  (ci-deploy's);
- admin: the Identity Center administrator's session (erin's), opened from an unknown
  address;
- instance: an EC2 instance role's credentials, issued to the instance by
  ec2.amazonaws.com, used from outside AWS;
- console: a console sign-in by bob, without MFA, from an unknown address.

Where: a scenario with a global call (IAM, sign-in, Organizations) in us-east-1 (not
planted when us-east-1 is not enabled), others in a region the seed picks; in an ACTIVE
account the seed picks. When: between 100 and 10 minutes before the emulator's `now`,
so the demo's two-hour window and any longer one hold every scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from trailsweep.emulator.activity import lookup_identity
from trailsweep.emulator.attacks import ATTACKER_CLI, CALLS, S3_BROWSER, TRUFFLEHOG
from trailsweep.emulator.cast import Actor, cast_of, ident
from trailsweep.emulator.catalog import CONSOLE_LOGIN, SESSION_TEMPLATES, TEMPLATES
from trailsweep.emulator.event import Event
from trailsweep.emulator.lag import draw_of
from trailsweep.emulator.record import event_ctx, lookup_resources
from trailsweep.emulator.settings import EmulatorSettings
from trailsweep.emulator.shapes import hexid, uuid_of
from trailsweep.emulator.template import Template
from trailsweep.emulator.world import World, stable_hash

Step = tuple[str, dict[str, Any], tuple[str, str] | None]
BROWSER_EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0"
)
_DENIED = "User: {caller_arn} is not authorized to perform: {action} on resource: {on} because "
_DENIED += "no identity-based policy allows the {action} action"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    technique: str  # Stratus Red Team id, or MITRE ATT&CK's
    mitre: str  # MITRE ATT&CK technique id
    by: str  # who does it (see the module's docstring)
    steps: tuple[Step, ...]  # (call, values, error): "service:Name" or "Name"


def _s(call: str, error: tuple[str, str] | None = None, **values: Any) -> Step:
    return call, values, error


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("cloudtrail-stop", "aws.defense-evasion.cloudtrail-stop", "T1562.008", "key",
             (_s("DescribeTrails"), _s("GetTrailStatus"), _s("StopLogging"))),
    Scenario("cloudtrail-delete", "aws.defense-evasion.cloudtrail-delete", "T1562.008", "key",
             (_s("DescribeTrails"), _s("DeleteTrail"))),
    Scenario("cloudtrail-event-selectors", "aws.defense-evasion.cloudtrail-event-selectors",
             "T1562.008", "key", (_s("GetEventSelectors"), _s("PutEventSelectors"))),
    Scenario("guardduty-disable", "T1562.001", "T1562.001", "admin",
             (_s("ListDetectors"), _s("UpdateDetector"), _s("DeleteDetector"))),
    Scenario("guardduty-trusted-ipset", "T1562.001", "T1562.001", "admin",
             (_s("ListDetectors"), _s("CreateIPSet"))),
    Scenario("vpc-flow-logs-delete", "aws.defense-evasion.vpc-remove-flow-logs", "T1562.008",
             "key", (_s("DescribeFlowLogs"), _s("DeleteFlowLogs"))),
    Scenario("config-recorder-stop", "T1562.001", "T1562.001", "admin",
             (_s("DescribeConfigurationRecorders"), _s("StopConfigurationRecorder"),
              _s("DeleteDeliveryChannel"))),
    Scenario("ec2-user-data", "aws.execution.ec2-user-data", "T1059.009", "key",
             (_s("ec2:DescribeInstances"), _s("StopInstances"), _s("ModifyInstanceAttribute"),
              _s("StartInstances"))),
    Scenario("imds-credentials-outside", "aws.credential-access.ec2-steal-instance-credentials",
             "T1552.005", "instance",
             (_s("GetCallerIdentity"), _s("ListBuckets"),
              _s("ListUsers", ("AccessDenied", _DENIED), action="iam:ListUsers",
                 on="arn:aws:iam::{account}:user/"),
              _s("ec2:DescribeInstances"))),
    Scenario("iam-create-admin-user", "aws.persistence.iam-create-admin-user", "T1136.003",
             "key", (_s("CreateUser", target="backup-admin"),
                     _s("AttachUserPolicy", target="backup-admin"),
                     _s("CreateAccessKey", target="backup-admin"))),
    Scenario("iam-backdoor-user", "aws.persistence.iam-backdoor-user", "T1098.001", "key",
             (_s("CreateAccessKey", target="alice"),)),
    Scenario("iam-login-profile", "aws.persistence.iam-create-user-login-profile", "T1098",
             "key", (_s("CreateLoginProfile", target="terraform"),
                     _s("UpdateLoginProfile", target="carol"))),
    Scenario("s3browser-iam-user", "T1136.003", "T1136.003", "s3browser",
             (_s("CreateUser", target="s3-sync"), _s("CreateLoginProfile", target="s3-sync"),
              _s("CreateAccessKey", target="s3-sync"), _s("PutUserPolicy", target="s3-sync"))),
    Scenario("kms-import-key-material", "T1486", "T1486", "key",
             (_s("kms:CreateKey"), _s("GetParametersForImport"), _s("ImportKeyMaterial"))),
    Scenario("rds-public-restore", "T1578.002", "T1578.002", "key",
             (_s("DescribeDBSnapshots"),
              _s("RestoreDBInstanceFromDBSnapshot", restored="orders-prod-copy"),
              _s("rds:ModifyDBInstance", restored="orders-prod-copy"))),
    Scenario("securityhub-findings-suppressed", "T1562.001", "T1562.001", "admin",
             (_s("securityhub:GetFindings"), _s("BatchUpdateFindings"))),
    Scenario("sso-idp-change", "T1556.007", "T1556.007", "admin",
             (_s("DisableExternalIdPConfigurationForDirectory"),
              _s("EnableExternalIdPConfigurationForDirectory"))),
    Scenario("ssm-send-command", "aws.execution.ssm-send-command", "T1651", "key",
             (_s("DescribeInstanceInformation"), _s("SendCommand"))),
    Scenario("console-login-without-mfa", "aws.initial-access.console-login-without-mfa",
             "T1078.004", "console", (_s("ConsoleLogin"),)),
    Scenario("ec2-security-group-open-22",
             "aws.exfiltration.ec2-security-group-open-port-22-ingress", "T1562.007", "key",
             (_s("ec2:AuthorizeSecurityGroupIngress"),)),
    Scenario("ec2-share-ebs-snapshot", "aws.exfiltration.ec2-share-ebs-snapshot", "T1537",
             "key", (_s("ModifySnapshotAttribute", outsider="012345678901"),)),
    Scenario("organizations-leave", "aws.defense-evasion.organizations-leave", "T1666",
             "admin", (_s("LeaveOrganization", ("AccessDenied", _DENIED),
                          action="organizations:LeaveOrganization", on="*"),)),
    Scenario("trufflehog-key-check", "T1078.004", "T1078.004", "trufflehog",
             (_s("GetCallerIdentity"),)),
)  # fmt: skip
BY_NAME = {s.name: s for s in SCENARIOS}


def call(name: str) -> Template:
    """A step's call: "service:Name" or "Name", the planted-only calls (attacks.py) first."""
    service, _, bare = name.rpartition(":")
    for t in (CONSOLE_LOGIN, *CALLS.values(), *TEMPLATES):
        if t.name == bare and (not service or t.service == service):
            return t
    raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Planted:
    """A scenario as planted: where, and its events in time order."""

    scenario: Scenario
    account: str
    region: str
    events: tuple[Event, ...]

    def document(self) -> dict[str, Any]:
        """What GET /_emulator/scenarios lists for it."""
        s = self.scenario
        return {
            "Name": s.name, "Technique": s.technique, "Mitre": s.mitre,
            "Account": self.account, "Region": self.region,
            "StartTime": self.events[0].time, "EndTime": self.events[-1].time,
            "EventIds": [e.event_id for e in self.events],
            "EventNames": [e.template.name for e in self.events],
        }  # fmt: skip


def _attacker(s: Scenario, seed: int, account: str, management: str) -> Actor:
    """Who does a scenario (see the module's docstring)."""
    ip = f"185.220.101.{stable_hash('attacker', seed, s.name) % 200 + 20}"
    cast = {a.key: a for a in cast_of(seed, account, management)}
    if s.by in ("key", "s3browser", "console"):
        agent = {"key": ATTACKER_CLI, "s3browser": S3_BROWSER, "console": BROWSER_EDGE}[s.by]
        return replace(cast["user/bob"], ips=(ip,), agents=(agent,), mfa=False)
    if s.by == "trufflehog":
        return replace(cast["user/ci-deploy"], ips=(ip,), agents=(TRUFFLEHOG,))
    if s.by == "admin":
        return replace(cast["sso/erin@example.com"], ips=(ip,), agents=(ATTACKER_CLI,))
    role = "web-instance-role"
    return Actor(
        key=f"role/{role}", kind="app", name="i-" + hexid(account, "i", 0), audience="",
        weight=0.0, ips=(f"45.137.21.{stable_hash('imds', seed, account) % 200 + 20}",),
        agents=(ATTACKER_CLI,), principal_id=ident("AROA", seed, account, role, length=21),
        role=role, session="AssumeRole", caller="ec2.amazonaws.com",
    )  # fmt: skip


def _event(
    n: int, t: Template, time: int, actor: Actor, session: tuple[str, int] | None,
    fixed: dict[str, Any], where: tuple[str, str],
) -> Event:  # fmt: skip
    account, region = where
    opens = t in SESSION_TEMPLATES.values()
    key = session[0] if session is not None and not opens else None
    user, akid = lookup_identity(actor, t, key, opens)
    c = event_ctx(account, region, t, n >> 2, time, actor, session, fixed)
    h = f"{n:016x}{stable_hash('planted-id', n):016x}"
    return Event(
        time=time, hour=time // 3600, rank=0,
        event_id=f"{h[:8]}-{h[8:12]}-4{h[13:16]}-b{h[17:20]}-{h[20:32]}",
        template=t, username=user, access_key_id=akid, resources=lookup_resources(t, c),
        insight=False, detail=n >> 2, lag_draw=draw_of(n), actor=actor, session=session,
        fixed=fixed,
    )  # fmt: skip


def _events(
    s: Scenario, seed: int, where: tuple[str, str], start: int, actor: Actor
) -> tuple[Event, ...]:
    account, _ = where
    events, time, session = [], start, None
    if actor.session is not None:
        session = (ident("ASIA", seed, *where, "scenario", s.name), start)
        opener = SESSION_TEMPLATES[actor.session]
        n = stable_hash("planted", seed, s.name, "opens")
        events.append(_event(n, opener, time, actor, session, {"values": {}}, where))
        time += 20
    for k, (name, values, error) in enumerate(s.steps):
        given = {key: str(v).replace("{account}", account) for key, v in values.items()}
        if s.name == "kms-import-key-material":
            given["key_id"] = uuid_of(account, "imported", seed)
        fixed = {"values": {"session_name": actor.name, **given}, "error": error}
        n = stable_hash("planted", seed, s.name, k)
        events.append(_event(n, call(name), time, actor, session, fixed, where))
        time += 15 + n % 60
    return tuple(events)


def plant(settings: EmulatorSettings, world: World) -> tuple[Planted, ...]:
    """The scenarios `settings.scenarios` names, each placed (see the module's docstring)."""
    active = [a.id for a in world.accounts if a.status == "ACTIVE"]
    now = int(settings.now.timestamp())
    out = []
    for name in settings.scenarios:
        s = BY_NAME[name]
        h = stable_hash("scenario", settings.seed, name)
        account = active[h % len(active)] if active else ""
        regions = world.enabled_regions(account)
        if not account or not regions:
            continue
        global_ = s.by == "console" or any(call(step[0]).global_service for step in s.steps)
        region = "us-east-1" if global_ else regions[(h >> 8) % len(regions)]
        if region not in regions:
            continue  # a global call is recorded in us-east-1 only
        start = now - 600 - (h >> 16) % 5400
        actor = _attacker(s, settings.seed, account, world.management.id)
        out.append(Planted(s, account, region, _events(s, settings.seed, (account, region),
                                                       start, actor)))  # fmt: skip
    return tuple(out)
