"""Which shard sweeps which pair, before any sweep: what `trailsweep plan` prints.

    plan = await plan_shards(settings, 8)
    for row in plan.rows:              # sorted by shard, then account, then region
        print(row.shard, row.account, row.region)
    print(plan.per_shard)              # pairs per shard, shard 0 first

It discovers the matrix as a sweep does (`engine/sweep.py` `discover_matrix`: STS
GetCallerIdentity, Organizations for 'org' and OUs, Account ListRegions or EC2
DescribeRegions for 'all') and deals it with the one rule (`settings/shards.py`
`assign`) that `--shard` applies, so a plan names exactly the pairs each `--shard I/N`
run over the same organization takes. It makes no LookupEvents call.

Decision: an account whose regions cannot be listed is a row with region '*', in the
shard a sweep would give its failed pair, so the plan shows which shard will report it.
The settings' own shard, if any, is ignored: a plan shows every shard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trailsweep.engine.sweep import discover_matrix, open_pool
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.shards import assign


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One pair and the shard that sweeps it."""

    account: str
    region: str
    shard: int


@dataclass(frozen=True, slots=True)
class Plan:
    """The whole matrix dealt over `shards` shards."""

    shards: int
    rows: list[PlanRow]

    @property
    def per_shard(self) -> list[int]:
        """How many pairs each shard sweeps, shard 0 first."""
        counts = [0] * self.shards
        for row in self.rows:
            counts[row.shard] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        """What `trailsweep plan --format json` prints."""
        return {
            "shards": self.shards,
            "pairs": [
                {"account": r.account, "region": r.region, "shard": r.shard} for r in self.rows
            ],
            "per_shard": self.per_shard,
        }


def deal(pairs: list[tuple[str, str]], shards: int) -> Plan:
    """`pairs` dealt over `shards` by the rule, as rows sorted by shard, account, region."""
    owner = assign(pairs, shards)
    rows = sorted(
        (PlanRow(a, r, shard) for (a, r), shard in owner.items()),
        key=lambda row: (row.shard, row.account, row.region),
    )
    return Plan(shards, rows)


async def plan_shards(settings: SweepSettings, shards: int) -> Plan:
    """The settings' matrix (accounts and regions, discovered as a sweep discovers them)
    dealt over `shards` shards (1 to settings.shards.MAX_SHARDS, checked by the caller)."""
    async with open_pool(settings) as pool:
        pairs = await discover_matrix(pool, settings)
    return deal([(p.account, p.region) for p in pairs], shards)
