"""Region discovery (`--regions all`): Account ListRegions from the management account on
one shared client, and EC2 DescribeRegions as each account only where ListRegions is
refused. Real clients over real HTTP against the emulator, which counts every action."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError

from trailsweep.aws.sessions import SessionPool
from trailsweep.emulator import EmulatorThread, services
from trailsweep.engine.pair import PairState
from trailsweep.engine.sweep import resolve_matrix
from trailsweep.settings.config import Options, build_config

from support import client, member_creds, settings

# af-south-1 is an opt-in region: ListRegions calls it ENABLED, the others ENABLED_BY_DEFAULT.
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1", "af-south-1")


@pytest.fixture
def org() -> Iterator[EmulatorThread]:
    """Management + 6 members (one SUSPENDED); three accounts with regions turned off, so
    that no two of them have the same regions by accident. us-east-1, where discovery
    signs its calls, stays on everywhere (AWS cannot turn a default region off)."""
    with EmulatorThread(settings(members=6, suspended=1, regions=REGIONS)) as emu:
        world = emu.emulator.world
        members = [a.id for a in world.accounts[1:]]
        emu.set_faults(
            disabled_regions={
                world.management.id: ["ap-southeast-1"],
                members[0]: ["eu-west-1"],
                members[1]: ["ap-southeast-1", "af-south-1"],
            }
        )
        yield emu


def _active(emu: EmulatorThread) -> list[str]:
    return sorted(a.id for a in emu.emulator.world.accounts if a.status == "ACTIVE")


def _expected(emu: EmulatorThread) -> list[tuple[str, str]]:
    """The matrix the emulator's world says discovery must find: every ACTIVE account
    with each of its enabled regions, sorted."""
    world = emu.emulator.world
    return sorted((a, r) for a in _active(emu) for r in world.enabled_regions(a))


def _calls(emu: EmulatorThread) -> Counter[str]:
    return emu.call(lambda: Counter(services.calls(emu.emulator.world)))


def _discover(emu: EmulatorThread, *, page_size: int | None = None) -> tuple[
    list[PairState], Counter[str], int
]:  # fmt: skip
    """resolve_matrix for `--accounts org --regions all` as the management account: the
    pairs, the calls of each action it made, and the AssumeRole sessions it was issued."""
    info = emu.emulator.ready_info()
    cfg = build_config(Options(accounts=["org"], regions=["all"]), now=datetime.now(UTC))
    before, sessions = _calls(emu), emu.emulator.world.sessions_issued

    async def run() -> list[PairState]:
        async with SessionPool(
            region=info["region"], endpoint_url=info["url"],
            access_key_id=info["access_key_id"], secret_access_key=info["secret_access_key"],
        ) as pool:  # fmt: skip
            if page_size is not None:
                pool.regions_page_size = page_size
            return await resolve_matrix(pool, cfg)

    pairs = anyio.run(run)
    made = _calls(emu)
    made.subtract(before)
    return pairs, made, emu.emulator.world.sessions_issued - sessions


def _matrix(pairs: list[PairState]) -> list[tuple[str, str]]:
    return [(p.account, p.region) for p in pairs]


def test_list_regions_finds_each_accounts_regions_without_assume_role(
    org: EmulatorThread,
) -> None:
    """Exactly each account's enabled regions; one ListRegions per account, and not one
    DescribeRegions or AssumeRole."""
    world = org.emulator.world
    pairs, made, sessions = _discover(org)
    assert _matrix(pairs) == _expected(org)
    assert all(p.state == "pending" for p in pairs)
    member = world.accounts[2].id  # ap-southeast-1 and af-south-1 turned off
    assert [p.region for p in pairs if p.account == member] == ["eu-west-1", "us-east-1"]
    assert [p.region for p in pairs if p.account == world.management.id] == [
        "af-south-1", "eu-west-1", "us-east-1",
    ]  # fmt: skip
    assert made["ListRegions"] == len(_active(org)) == 6
    assert made["DescribeRegions"] == 0
    assert made["AssumeRole"] == 0
    assert sessions == 0


def test_list_regions_pages_are_all_followed(org: EmulatorThread) -> None:
    """One region per page: every page is fetched (NextToken), nothing lost or repeated."""
    world = org.emulator.world
    pairs, made, _ = _discover(org, page_size=1)
    assert _matrix(pairs) == _expected(org)
    assert made["ListRegions"] == sum(len(world.enabled_regions(a)) for a in _active(org))
    assert made["ListRegions"] > len(_active(org))
    assert made["DescribeRegions"] == 0


def test_refused_list_regions_falls_back_to_describe_regions(org: EmulatorThread) -> None:
    """No trusted access for the Account API: each member is refused and answered by
    DescribeRegions as itself (AssumeRole); the management account, asked without
    AccountId, still by ListRegions. The matrix is the same."""
    org.set_faults(account_trusted_access=False)
    pairs, made, sessions = _discover(org)
    members = len(_active(org)) - 1
    assert _matrix(pairs) == _expected(org)
    assert all(p.state == "pending" for p in pairs)
    assert made["ListRegions"] == members + 1
    assert made["DescribeRegions"] == members
    assert made["AssumeRole"] == members
    assert sessions == members


def test_account_whose_regions_cannot_be_listed_is_one_failed_pair(org: EmulatorThread) -> None:
    """A member whose role cannot be assumed: ListRegions still lists it (no AssumeRole
    needed). Without trusted access its fallback fails too: one failed pair, region '*',
    with the AssumeRole error; every other account is listed as usual."""
    world = org.emulator.world
    bad = world.accounts[3].id
    org.set_faults(unassumable_accounts=[bad])
    pairs, _, _ = _discover(org)
    assert _matrix(pairs) == _expected(org)
    assert all(p.state == "pending" for p in pairs)

    org.set_faults(account_trusted_access=False)
    pairs, made, _ = _discover(org)
    (failed,) = [p for p in pairs if p.account == bad]
    assert (failed.region, failed.state) == ("*", "failed")
    assert failed.error is not None
    assert failed.error.startswith("AccessDenied: cannot list regions: ")
    assert "sts:AssumeRole" in failed.error
    others = [(a, r) for a, r in _expected(org) if a != bad]
    assert _matrix([p for p in pairs if p.account != bad]) == others
    assert made["DescribeRegions"] == len(_active(org)) - 2  # not the management, not `bad`


def _code(call: Callable[..., object], **params: object) -> str:
    with pytest.raises(ClientError) as info:
        call(**params)
    return str(info.value.response["Error"]["Code"])


def test_emulated_list_regions_refuses_what_aws_refuses(org: EmulatorThread) -> None:
    """The emulator's ListRegions, through boto3: the caller's own id as AccountId is a
    ValidationException; a member named without trusted access, or by a member, is
    AccessDeniedException; leaving AccountId out always answers for the caller."""
    world = org.emulator.world
    management, member, other = world.management.id, world.accounts[1].id, world.accounts[2].id
    enabled = ["ENABLED", "ENABLED_BY_DEFAULT"]
    account = client(org, "account")

    def regions(acct: Any, **params: object) -> list[tuple[str, str]]:
        resp = acct.list_regions(RegionOptStatusContains=enabled, **params)
        assert "NextToken" not in resp
        return [(r["RegionName"], r["RegionOptStatus"]) for r in resp["Regions"]]

    assert regions(account) == [
        ("us-east-1", "ENABLED_BY_DEFAULT"), ("eu-west-1", "ENABLED_BY_DEFAULT"),
        ("af-south-1", "ENABLED"),
    ]  # fmt: skip
    assert _code(account.list_regions, AccountId=management) == "ValidationException"
    assert [r for r, _ in regions(account, AccountId=member)] == world.enabled_regions(member)
    member_account = client(org, "account", creds=member_creds(org, member))
    assert [r for r, _ in regions(member_account)] == world.enabled_regions(member)
    assert _code(member_account.list_regions, AccountId=other) == "AccessDeniedException"

    org.set_faults(account_trusted_access=False)
    assert _code(account.list_regions, AccountId=member) == "AccessDeniedException"
    assert [r for r, _ in regions(account)] == world.enabled_regions(management)
    assert [r for r, _ in regions(member_account)] == world.enabled_regions(member)
