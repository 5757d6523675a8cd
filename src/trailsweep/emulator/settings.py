"""Everything the emulator can be told: the world it models, its data, its limits and faults.

`WorldSettings` and `DataSettings` are fixed when the emulator starts (they decide what
exists). `Faults` can be changed while it runs, through `Emulator.faults` or
`POST /_emulator/faults`, so tests can turn trouble on and off mid-sweep.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trailsweep.emulator.lag import Lag, lag_problem


class SettingsError(ValueError):
    """A setting the emulator cannot take; the message names it and what it takes, in one
    line. The emulator is its own package (it imports nothing of trailsweep outside
    itself): the `trailsweep emulator` and `trailsweep demo` commands turn this into
    their bad-input exit (2), the control API into HTTP 400. `setting` and `reason`, when
    set, are the field at fault and what is wrong with it, for a caller (the CLI) that
    names the field its own way (a flag)."""

    def __init__(self, message: str, *, setting: str | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.setting = setting
        self.reason = reason


DEFAULT_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1")
# The planted scenarios, by name (scenarios.py states each; test_emulator_scenarios holds
# the two lists to the same names). Here so that settings are checked without loading
# the event generator.
SCENARIO_NAMES = (
    "cloudtrail-stop", "cloudtrail-delete", "cloudtrail-event-selectors", "guardduty-disable",
    "guardduty-trusted-ipset", "vpc-flow-logs-delete", "config-recorder-stop", "ec2-user-data",
    "imds-credentials-outside", "iam-create-admin-user", "iam-backdoor-user",
    "iam-login-profile", "s3browser-iam-user", "kms-import-key-material", "rds-public-restore",
    "securityhub-findings-suppressed", "sso-idp-change", "ssm-send-command",
    "console-login-without-mfa", "ec2-security-group-open-22", "ec2-share-ebs-snapshot",
    "organizations-leave", "trufflehog-key-check",
)  # fmt: skip
# The control-plane calls `Faults.hang_calls` and `Faults.fail_calls` can name.
CONTROL_CALLS = (
    "sts:GetCallerIdentity",
    "sts:AssumeRole",
    "organizations:ListAccounts",
    "account:ListRegions",
    "ec2:DescribeRegions",
)


@dataclass(slots=True)
class Faults:
    """Limits and trouble, all changeable at run time. Rates are shares of requests (0..1)."""

    rate: float = 2.0  # LookupEvents calls per second per (account, region)
    burst: float = 2.0  # token bucket size; 2 absorbs network jitter of an exact 2/s client
    other_caller_share: float = 0.0  # share of each pair's quota taken by "another caller"
    latency_ms: float = 0.0  # added to every LookupEvents response
    jitter_ms: float = 0.0  # uniform extra latency 0..jitter_ms
    error_rate: float = 0.0  # share of LookupEvents calls answered 500/503
    reset_rate: float = 0.0  # share of LookupEvents calls whose connection is reset
    slow_body_ms: float = 0.0  # pause between body chunks (a slow network)
    deny_accounts: list[str] = field(default_factory=list)  # AccessDeniedException
    disabled_regions: dict[str, list[str]] = field(default_factory=dict)  # account -> regions
    unassumable_accounts: list[str] = field(default_factory=list)  # AssumeRole is denied
    # False: Account ListRegions naming a member (AccountId) is AccessDeniedException, as in
    # an organization without trusted access for the Account Management service.
    account_trusted_access: bool = True
    credential_ttl: float = 3600.0  # seconds an AssumeRole session lives (wall clock)
    token_ttl: float = 3600.0  # seconds a LookupEvents NextToken stays valid (wall clock)
    # Control-plane calls (CONTROL_CALLS) accepted and never answered: each waits until the
    # emulator stops, then its connection is reset. "sts:AssumeRole" hangs every such call;
    # "sts:AssumeRole@111122223333" only those concerning that account (AssumeRole: the
    # role's account; ListRegions: the AccountId asked about; the others: the caller's).
    hang_calls: list[str] = field(default_factory=list)
    # Control-plane calls answered HTTP 500 InternalFailure, named the same way.
    fail_calls: list[str] = field(default_factory=list)
    # CloudTrail's delivery lag (lag.py): the median delay of most events, the share of
    # events in the late tail, and the latest any event arrives, in data-clock seconds.
    # All 0 (the default): no lag. `lag.AWS_LAG` holds AWS's stated times.
    lag_median: float = 0.0
    lag_tail_share: float = 0.0
    lag_tail_max: float = 0.0

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a JSON patch of fields, all or nothing: an unknown field, a wrong type or
        a value out of range (`_check_numbers`) is a SettingsError and changes nothing."""
        names = {f.name: f for f in dataclasses.fields(self)}
        merged = self.as_dict()
        for key, value in changes.items():
            if key not in names:
                raise SettingsError(f"unknown fault setting {key!r}; known: {', '.join(names)}")
            current = getattr(self, key)
            if isinstance(current, float) and type(value) in (int, float):
                value = float(value)
            elif type(value) is not type(current):
                raise SettingsError(f"fault setting {key!r} takes a {type(current).__name__}")
            if key in ("hang_calls", "fail_calls"):
                _check_calls(key, value)
            merged[key] = value
        _check_numbers(merged)
        for key in changes:
            setattr(self, key, merged[key])

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def lag(self) -> Lag:
        """The delivery-lag settings of the moment."""
        return Lag(self.lag_median, self.lag_tail_share, self.lag_tail_max)

    def __post_init__(self) -> None:
        _check_calls("hang_calls", self.hang_calls)
        _check_calls("fail_calls", self.fail_calls)
        _check_numbers(self.as_dict())


# Fields of `Faults` that are shares (0..1); every other number must be finite and >= 0.
# Decision: 0 is allowed everywhere (rate 0: after the burst every call is throttled;
# token_ttl 0: every NextToken has expired), as trouble a test may want; negatives,
# NaN and infinities mean nothing and are refused.
_SHARES = frozenset({"other_caller_share", "error_rate", "reset_rate", "lag_tail_share"})


def _check_numbers(values: dict[str, Any]) -> None:
    """Each number of a `Faults` (as a dict) in its range, and the lag settings coherent."""
    for key, value in values.items():
        if type(value) not in (int, float):
            continue
        if not math.isfinite(value) or value < 0 or (key in _SHARES and value > 1):
            wanted = "a share between 0 and 1" if key in _SHARES else "a number >= 0"
            _refuse(key, f"must be {wanted}, not {value}")
    problem = lag_problem(values["lag_median"], values["lag_tail_share"], values["lag_tail_max"])
    if problem is not None:
        _refuse(*problem)


def _refuse(key: str, reason: str) -> None:
    raise SettingsError(f"fault setting {key!r} {reason}", setting=key, reason=reason)


def _check_calls(key: str, calls: list[Any]) -> None:
    """Each entry is one of CONTROL_CALLS, optionally "@" and a 12-digit account id."""
    for entry in calls:
        name, at, account = str(entry).partition("@")
        if (
            not isinstance(entry, str)
            or name not in CONTROL_CALLS
            or (at and not (len(account) == 12 and account.isdigit()))
        ):
            raise SettingsError(
                f"fault setting {key!r}: {entry!r} is not one of {', '.join(CONTROL_CALLS)} "
                "(optionally followed by @ and a 12-digit account id)"
            )


def control_call_listed(calls: list[str], name: str, account: str) -> bool:
    """Whether `calls` names the call `name` ("sts:AssumeRole") concerning `account`."""
    return name in calls or f"{name}@{account}" in calls


@dataclass(frozen=True, slots=True)
class EmulatorSettings:
    """What exists in the emulated organization and how much history each pair holds."""

    seed: int = 7
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    realtime: bool = False  # False: the data clock is pinned at `now`; True: it advances
    # Data-clock seconds per wall-clock second (dataclock.py); 0: it moves only when
    # stepped (POST /_emulator/clock). `realtime` is speed 1; give one or the other.
    clock_speed: float = 0.0
    # Hours are numbered from here for the random draws (how many events, which bursts);
    # None: from the Unix epoch. The tests pin it to `now`, so what the window "the last N
    # hours" holds is the same whatever hour the suite runs in (from the epoch, test_lean
    # failed at 07 UTC); event times stay absolute either way.
    draw_origin: datetime | None = None
    members: int = 5  # member accounts besides the management account
    suspended: int = 1  # how many of the members are SUSPENDED
    regions: tuple[str, ...] = DEFAULT_REGIONS  # enabled in every account
    role_name: str = "OrganizationAccountAccessRole"
    events_per_day: float = 200.0  # mean management events per day of a normal pair
    skew: float = 100.0  # busiest pairs over quietest pairs
    idle_day_share: float = 0.1  # share of days with no events at all in a pair
    diurnal: bool = True  # office hours and weekdays busier; False: the same all week
    insights_per_day: float = 0.3  # Insights events per day per pair
    retention_days: int = 90
    host: str = "127.0.0.1"
    port: int = 0
    # A host beyond loopback (see `is_loopback`) is refused unless this is True: the
    # emulator hands out working keys and its control API rewrites its behaviour.
    allow_remote: bool = False
    # What the control API asks for (`Authorization: Bearer <token>`); None: the emulator
    # draws a random one (Emulator.control_token). Kept out of repr, as a key is.
    control_token: str | None = field(default=None, repr=False)
    faults: Faults = field(default_factory=Faults)
    # Planted attacks (scenarios.py), by name; SCENARIO_NAMES for all. Decision: none by
    # default here and in `trailsweep emulator` (tests, benchmarks and scripts get the
    # background alone, whose counts and bytes they pin); `trailsweep demo` plants all.
    scenarios: tuple[str, ...] = ()

    @property
    def data_speed(self) -> float:
        """How fast the data clock runs at start: `clock_speed`, or 1 when `realtime`."""
        return float(self.clock_speed) or (1.0 if self.realtime else 0.0)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise SettingsError("emulator --now needs a time zone, e.g. 2026-11-01T00:00:00Z")
        if self.draw_origin is not None and self.draw_origin.tzinfo is None:
            raise SettingsError("emulator: draw_origin needs a time zone")
        if self.members < 0 or not 0 <= self.suspended <= self.members:
            raise SettingsError("emulator: members must be >= 0 and suspended <= members")
        if not self.regions:
            raise SettingsError("emulator: at least one region must be enabled")
        speed = self.clock_speed
        if type(speed) not in (int, float) or not 0 <= speed < math.inf:
            raise SettingsError(
                f"emulator: clock_speed must be a number >= 0 (data seconds per wall "
                f"second; 0: stepped only), not {speed!r}"
            )
        if self.realtime and speed not in (0, 1):
            raise SettingsError(
                "emulator: realtime is clock speed 1; give realtime or clock_speed, not both"
            )
        if self.events_per_day < 0 or self.skew < 1:
            raise SettingsError("emulator: events_per_day must be >= 0 and skew >= 1")
        if not self.allow_remote and not is_loopback(self.host):
            raise SettingsError(
                f"emulator: --host {self.host!r} is reachable from other machines; listen on "
                "127.0.0.1 (the default), or add --allow-remote to mean it"
            )
        unknown = [n for n in self.scenarios if n not in SCENARIO_NAMES]
        if unknown:
            raise SettingsError(
                f"emulator: unknown scenario {unknown[0]!r}; known: {', '.join(SCENARIO_NAMES)}",
                setting="scenarios",
                reason=f"unknown scenario {unknown[0]!r}; known: all, none, "
                + ", ".join(SCENARIO_NAMES),
            )
        if self.control_token is not None and not _TOKEN.fullmatch(self.control_token):
            raise SettingsError(
                "emulator: --control-token (TRAILSWEEP_EMULATOR_TOKEN) must be 16 to 256 "
                "letters, digits or ._~+/=- characters; leave it unset for a random one"
            )


# The characters of an HTTP bearer token (RFC 6750 b64token); 16 at least, so a given
# token is not a guessable word.
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{16,256}")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 (also IPv4-mapped) and the name localhost: addresses only
    this machine reaches. Any other name is not, whatever it resolves to today."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
