"""The emulated organization: accounts, their OU tree, their regions, access keys and STS
sessions.

Account ids and the management account's keys come from the seed, so two emulators with
the same seed are the same organization. Sessions issued by AssumeRole live in memory and
expire on the emulator's wall clock (the real one unless a test injects another).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from trailsweep.emulator.settings import EmulatorSettings

ALL_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-southeast-1", "ap-southeast-2",
)  # fmt: skip
OPT_IN_REGIONS = ("af-south-1", "ap-east-1", "eu-south-1", "me-south-1", "ap-southeast-3")
KNOWN_REGIONS = ALL_REGIONS + OPT_IN_REGIONS
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_LOWER = "0123456789abcdefghijklmnopqrstuvwxyz"
_MAX_SESSIONS = 200_000


def stable_hash(*parts: object) -> int:
    """A 64-bit hash of the parts that is the same in every process (unlike hash())."""
    text = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def _key_id(prefix: str, *parts: object) -> str:
    n = stable_hash("key", *parts)
    return prefix + "".join(_ALPHABET[(n >> (5 * i)) % 32] for i in range(12)) + "EMUL"


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    email: str
    status: str  # ACTIVE | SUSPENDED
    joined: int  # epoch seconds


@dataclass(frozen=True, slots=True)
class OrgUnit:
    """An organizational unit: its id (ou-<root part>-<8 chars>), name and parent's id."""

    id: str
    name: str
    parent: str  # the root's id (r-xxxx) or another OU's


# The OU tree every emulated organization has, parents before children: (name, parent's
# name; "" for the root). Workloads holds Prod and Dev, so one OU nests two others.
_UNITS = (("Security", ""), ("Workloads", ""), ("Prod", "Workloads"), ("Dev", "Workloads"))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who signs a request: a long-term key or an STS session."""

    access_key_id: str
    secret_access_key: str
    account: str
    arn: str
    session_token: str | None = None
    expires_at: float | None = None  # wall-clock epoch seconds


class World:
    """Accounts, regions and credentials of the emulated organization."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        seed = settings.seed
        ids: list[str] = []
        while len(ids) < settings.members + 1:
            candidate = str(10**11 + stable_hash("account", seed, len(ids)) % (9 * 10**11))
            if candidate not in ids:
                ids.append(candidate)
        joined = int(settings.now.timestamp()) - 400 * 86400
        first_suspended = settings.members + 1 - settings.suspended
        self.accounts = [
            Account(
                id=acct,
                name="management" if i == 0 else f"member-{i:03d}",
                email=f"aws+{acct}@example.com",
                status="SUSPENDED" if i >= first_suspended else "ACTIVE",
                joined=joined + i * 86400,
            )
            for i, acct in enumerate(ids)
        ]
        self.by_id = {a.id: a for a in self.accounts}
        self.management = self.accounts[0]
        self._tree(seed)
        akid = _key_id("AKIA", seed, "management")
        secret = hashlib.sha256(f"secret|{seed}|management".encode()).hexdigest()[:40]
        self.root_principal = Principal(
            akid, secret, self.management.id, f"arn:aws:iam::{self.management.id}:user/admin"
        )
        self._principals: dict[str, Principal] = {akid: self.root_principal}
        self.sessions_issued = 0
        self._issued: list[str] = []  # every secret and token handed out, even forgotten ones

    def _tree(self, seed: int) -> None:
        """The root, the OUs of _UNITS, and each account's parent: the management account
        under the root, the members dealt in turn over the root and the OUs (from a place
        the seed picks), so every OU holds accounts once there are five members or more."""
        code = "".join(_LOWER[(stable_hash("root", seed) >> (5 * i)) % 36] for i in range(4))
        self.root_id = f"r-{code}"
        ids: dict[str, str] = {"": self.root_id}
        self.units: list[OrgUnit] = []
        for name, parent in _UNITS:
            n = stable_hash("ou", seed, name)
            unit = OrgUnit(
                id=f"ou-{code}-" + "".join(_LOWER[(n >> (5 * i)) % 36] for i in range(8)),
                name=name,
                parent=ids[parent],
            )
            ids[name] = unit.id
            self.units.append(unit)
        places = [self.root_id, *(u.id for u in self.units)]
        turn = stable_hash("deal", seed) % len(places)
        self.parent_of: dict[str, str] = {self.management.id: self.root_id}
        for i, account in enumerate(self.accounts[1:]):
            self.parent_of[account.id] = places[(turn + i) % len(places)]

    def accounts_under(self, parent: str) -> list[Account]:
        """Every account below `parent` (the root or an OU), at any depth, in id order."""
        below = {parent}
        for unit in self.units:  # parents come before their children
            if unit.parent in below:
                below.add(unit.id)
        return sorted(
            (a for a in self.accounts if self.parent_of[a.id] in below), key=lambda a: a.id
        )

    # regions -------------------------------------------------------------------------
    def enabled_regions(self, account: str) -> list[str]:
        disabled = set(self.settings.faults.disabled_regions.get(account, ()))
        return [r for r in self.settings.regions if r not in disabled]

    def region_enabled(self, account: str, region: str) -> bool:
        return region in self.enabled_regions(account)

    # credentials -----------------------------------------------------------------------
    def principal(self, access_key_id: str) -> Principal | None:
        return self._principals.get(access_key_id)

    def issue_session(self, account: str, role: str, session_name: str, now: float) -> Principal:
        """Temporary credentials for an assumed role, expiring after the configured TTL."""
        akid = "ASIA" + "".join(secrets.choice(_ALPHABET) for _ in range(16))
        principal = Principal(
            access_key_id=akid,
            secret_access_key=secrets.token_urlsafe(30)[:40],
            account=account,
            arn=f"arn:aws:sts::{account}:assumed-role/{role}/{session_name}",
            session_token="FwoGZXIvYXdzE" + secrets.token_urlsafe(96),
            expires_at=now + self.settings.faults.credential_ttl,
        )
        self._principals[akid] = principal
        self.sessions_issued += 1
        self._issued += [principal.secret_access_key, principal.session_token or ""]
        self._forget_expired(now)
        return principal

    def _forget_expired(self, now: float) -> None:
        # AWS answers ExpiredToken for a session however long ago it expired, so sessions
        # are kept; only past _MAX_SESSIONS are the oldest expired ones dropped.
        if len(self._principals) <= _MAX_SESSIONS:
            return
        expired = [
            k
            for k, p in self._principals.items()
            if p.expires_at is not None and p.expires_at < now
        ]
        for k in expired[: len(self._principals) - _MAX_SESSIONS]:
            del self._principals[k]

    def issued_secrets(self) -> list[str]:
        """Every secret and session token handed out, for tests that grep output for leaks."""
        return [self.root_principal.secret_access_key, *self._issued]
