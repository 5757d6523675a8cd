"""The people and machines of each emulated account: who calls, from where, with what.

Every account has the same kinds of principal, drawn from the seed and the account id (so
two emulators of one seed have the same cast): IAM users who are people (a console
password with or without MFA, an access key used from a stable home address with one CLI),
IAM users that are bots (a key, a fixed address, one SDK), Identity Center users arriving
by AssumeRoleWithSAML, a CI role assumed by AssumeRoleWithWebIdentity, Lambda execution
roles assumed by lambda.amazonaws.com, service-linked roles used by AWS services, the
organization's admin role (member accounts) and root, rarely (console only, never
AssumeRole). Each principal keeps its own small set of addresses and user agents and its
own working hours; a person works weekdays, a machine every hour.

`Actor.session` names the call that opens a principal's session (AssumeRole,
AssumeRoleWithSAML, AssumeRoleWithWebIdentity, GetSessionToken); history.py makes that
call the principal's first event of each hour it is active and gives its other events of
the hour the ASIA key, session name and creation time it issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from trailsweep.emulator.world import stable_hash

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def ident(prefix: str, *parts: object, length: int = 20) -> str:
    """An AWS identifier of `length` characters (access key ids and principal ids: AKIA,
    ASIA 20, AIDA and AROA 21), uppercase letters and digits, stable for `parts`."""
    n = stable_hash("ident", prefix, *parts)
    m = stable_hash("ident2", prefix, *parts)
    body = "".join(_ALNUM[((n if i < 12 else m) >> (5 * (i % 12))) % 32] for i in range(32))
    return prefix + body[: length - len(prefix)]


# User agents, by client. Humans on the command line, browsers, SDKs of bots and CI.
CLI_MAC = (
    "aws-cli/2.17.4 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 "
    "lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source "
    "md/prompt#off"
)
CLI_LINUX = (
    "aws-cli/2.15.58 md/awscrt#0.19.19 ua/2.0 os/linux#6.8.0-36-generic md/arch#x86_64 "
    "lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
    "md/distrib#ubuntu.24 md/prompt#off"
)
CLI_CI = (
    "aws-cli/2.17.4 md/awscrt#0.20.11 ua/2.0 os/linux#6.5.0-1022-azure md/arch#x86_64 "
    "lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
    "md/distrib#ubuntu.22 md/prompt#off"
)
BROWSER_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/126.0.0.0 Safari/537.36"
)
BROWSER_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"
TERRAFORM = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.8.5 (+https://www.terraform.io) "
    "terraform-provider-aws/5.57.0 (+https://registry.terraform.io/providers/hashicorp/aws) "
    "aws-sdk-go-v2/1.30.1 ua/2.0 os/linux lang/go#1.22.4 md/GOOS#linux md/GOARCH#amd64"
)
BOTO3_LAMBDA = (
    "Boto3/1.34.131 md/Botocore#1.34.131 ua/2.0 os/linux#5.10.219-229.858.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 "
    "cfg/retry-mode#legacy Botocore/1.34.131"
)
JAVA_SDK = (
    "aws-sdk-java/2.25.60 Linux/5.10.219-208.866.amzn2.x86_64 "
    "OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. io/sync "
    "http/Apache cfg/retry-mode/legacy"
)
# First octets of consumer and office networks, of GitHub's hosted runners (Azure) and of
# AWS's own ranges (Lambda's NAT addresses).
_HOME_NETS = (24, 73, 81, 86, 92, 98, 176, 188, 213)
_CI_NETS = (4, 20, 52, 172)
_AWS_NETS = (3, 18, 34, 44, 52, 54)


@dataclass(frozen=True, slots=True, eq=False)
class Actor:
    """One principal of an account and how it behaves (compared and hashed by identity:
    each is made once, by `cast_of` or a planted scenario)."""

    key: str  # unique in the account: "user/alice", "sso/erin@example.com", ...
    kind: str  # user | bot | root | sso | ci | app | linked | admin | service
    name: str  # IAM user name, session name, or the service's principal
    audience: str  # which calls it makes (catalog.Template.who)
    weight: float  # relative share of the account's events
    ips: tuple[str, ...]
    agents: tuple[str, ...]
    hours: tuple[int, int] = (0, 24)  # UTC hours it works, start included, end not
    weekends: bool = True
    console: bool = False  # signs in to the console (ConsoleLogin)
    mfa: bool = False
    access_key: str | None = None  # its long-term AKIA key
    principal_id: str = ""  # AIDA... (users), AROA... (roles)
    role: str | None = None  # the role it assumes
    role_path: str = "/"  # the role's IAM path
    session: str | None = None  # the call that opens its sessions, see the module doc
    invoked_by: str | None = None  # the AWS service acting (service-linked roles)
    caller: str | None = None  # who calls the session's issuing call (a service, a user)
    caller_id: str = ""  # that caller's principal id, when it is a user of another account

    def active(self, hour: int, diurnal: bool) -> float:
        """How much of its weight it has in an hour (epoch hours): all of it in its
        working hours, a twentieth outside them (people), all of it always (machines)."""
        if not diurnal or (self.hours == (0, 24) and self.weekends):
            return self.weight
        weekday = (hour // 24 + 3) % 7  # 1970-01-01 was a Thursday; 0 is Monday
        start, end = self.hours
        on = start <= hour % 24 < end and (self.weekends or weekday < 5)
        return self.weight if on else self.weight * 0.05


def _ips(seed: int, account: str, who: str, nets: tuple[int, ...], n: int) -> tuple[str, ...]:
    """`n` addresses in one /24 of a network from `nets`: a stable home or office range."""
    h = stable_hash("ip", seed, account, who)
    a, b, c = nets[h % len(nets)], (h >> 8) % 256, (h >> 16) % 256
    return tuple(f"{a}.{b}.{c}.{(h >> (24 + 8 * i)) % 250 + 2}" for i in range(n))


PEOPLE = ("alice", "bob", "carol", "dmitri")
BOTS = (
    ("terraform", "tf", TERRAFORM),
    ("ci-deploy", "ci", CLI_CI),
    ("backup-bot", "bot", JAVA_SDK),
)
SSO_USERS = ("erin@example.com", "frank@example.com", "grace@example.com")
PERMISSION_SETS = ("AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess")
FUNCTIONS = ("orders-api", "invoice-worker", "thumbnailer", "audit-forwarder")
LINKED = (
    ("config.amazonaws.com", "AWSServiceRoleForConfig", "AWSConfig-Describe", "cfg"),
    ("autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling", "AutoScaling", "asg"),
    ("access-analyzer.amazonaws.com", "AWSServiceRoleForAccessAnalyzer", "access-analyzer", "aa"),
)
CI_SUBJECT = "repo:example-org/platform:ref:refs/heads/main"


def _people(seed: int, account: str) -> list[Actor]:
    out = []
    for i, name in enumerate(PEOPLE):
        h = stable_hash("person", seed, account, name)
        start = (7, 8, 13, 15)[h % 4]  # Europe or the Americas, in UTC
        mfa = name != "dmitri"  # one person still signs in with a password alone
        out.append(
            Actor(
                key=f"user/{name}",
                kind="user",
                name=name,
                audience="hum adm" if i == 0 else "hum",
                weight=3.0,
                ips=_ips(seed, account, name, _HOME_NETS, 2),
                agents=(
                    CLI_MAC if h % 2 else CLI_LINUX,
                    BROWSER_FIREFOX if h % 3 else BROWSER_CHROME,
                ),
                hours=(start, start + 9),
                weekends=False,
                console=True,
                mfa=mfa,
                access_key=ident("AKIA", seed, account, name),
                principal_id=ident("AIDA", seed, account, name, length=21),
                session="GetSessionToken" if name == "carol" else None,
            )
        )
    return out


def _bots(seed: int, account: str) -> list[Actor]:
    return [
        Actor(
            key=f"user/{name}",
            kind="bot",
            name=name,
            audience=aud,
            weight=4.0,
            ips=_ips(seed, account, name, _CI_NETS if aud == "ci" else _AWS_NETS, 1),
            agents=(agent,),
            access_key=ident("AKIA", seed, account, name),
            principal_id=ident("AIDA", seed, account, name, length=21),
        )
        for name, aud, agent in BOTS
    ]


def _machines(seed: int, account: str) -> list[Actor]:
    """The bots, CI, Lambda execution roles and service-linked roles."""
    out = _bots(seed, account)
    out.append(
        Actor(
            key="role/GitHubActionsDeploy",
            kind="ci",
            name="GitHubActions",
            audience="ci",
            weight=6.0,
            ips=_ips(seed, "github", "gha", _CI_NETS, 4),
            agents=(CLI_CI,),
            principal_id=ident("AROA", seed, account, "GitHubActionsDeploy", length=21),
            role="GitHubActionsDeploy",
            session="AssumeRoleWithWebIdentity",
            caller=CI_SUBJECT,
        )
    )
    for fn in FUNCTIONS:
        role = f"{fn}-execution-role"
        out.append(
            Actor(
                key=f"role/{role}",
                kind="app",
                name=fn,
                audience="app",
                weight=7.0,
                ips=_ips(seed, account, fn, _AWS_NETS, 2),
                agents=(BOTO3_LAMBDA,),
                principal_id=ident("AROA", seed, account, role, length=21),
                role=role,
                session="AssumeRole",
                caller="lambda.amazonaws.com",
            )
        )
    for service, role, session, aud in LINKED:
        out.append(
            Actor(
                key=f"role/{role}",
                kind="linked",
                name=session,
                audience=aud,
                weight=5.0,
                ips=(service,),
                agents=(service,),
                role=role,
                role_path=f"/aws-service-role/{service}/",
                principal_id=ident("AROA", seed, account, role, length=21),
                session="AssumeRole",
                invoked_by=service,
                caller=service,
            )
        )
    return out


def _visitors(seed: int, account: str) -> list[Actor]:
    """Identity Center users."""
    out = []
    for i, email in enumerate(SSO_USERS):
        h = stable_hash("sso", seed, account, email)
        pset = PERMISSION_SETS[i]
        role = f"AWSReservedSSO_{pset}_{h % 16**16:016x}"
        start = (8, 14, 6)[i]
        out.append(
            Actor(
                key=f"sso/{email}",
                kind="sso",
                name=email,
                audience="hum adm" if i == 0 else "hum",
                weight=3.0,
                ips=_ips(seed, "sso", email, _HOME_NETS, 2),
                agents=(BROWSER_CHROME, CLI_MAC),
                hours=(start, start + 9),
                weekends=False,
                principal_id=ident("AROA", seed, account, role, length=21),
                role=role,
                role_path="/aws-reserved/sso.amazonaws.com/",
                session="AssumeRoleWithSAML",
                caller=email,
            )
        )
    return out


def _stewards(seed: int, account: str, management: str) -> list[Actor]:
    """The admin role assumed from the management account (members only), and root."""
    out = []
    if account != management:
        out.append(
            Actor(
                key="role/OrganizationAccountAccessRole",
                kind="admin",
                name="alice",
                audience="adm",
                weight=1.0,
                ips=_ips(seed, management, "alice", _HOME_NETS, 2),
                agents=(CLI_MAC,),
                hours=(8, 17),
                weekends=False,
                principal_id=ident(
                    "AROA", seed, account, "OrganizationAccountAccessRole", length=21
                ),
                role="OrganizationAccountAccessRole",
                session="AssumeRole",
                caller=management,
                caller_id=ident("AIDA", seed, management, "alice", length=21),
            )
        )
    out.append(
        Actor(
            key="root",
            kind="root",
            name="root",
            audience="root",
            weight=0.15,
            ips=_ips(seed, account, "root", _HOME_NETS, 1),
            agents=(BROWSER_CHROME,),
            hours=(9, 12),
            weekends=False,
            console=True,
            mfa=True,
            principal_id=account,
        )
    )
    return out


@lru_cache(maxsize=256)
def cast_of(seed: int, account: str, management: str) -> tuple[Actor, ...]:
    """Every principal of one account (`management`: the management account's id), in a
    fixed order."""
    return (
        *_people(seed, account),
        *_machines(seed, account),
        *_visitors(seed, account),
        *_stewards(seed, account, management),
    )
