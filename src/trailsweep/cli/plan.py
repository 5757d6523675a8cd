"""`trailsweep plan --shards N`: which shard of `sweep --shard I/N` sweeps which pair.

The accounts, regions and credentials are `sweep`'s own options (sweep_options.py) and
mean the same; the matrix is discovered as a sweep discovers it (api/plan.py), with no
LookupEvents call. The table or JSON goes to stdout (data only, docs/design.md
invariant 9); errors are one line on stderr.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import anyio
import orjson
import typer

from trailsweep.api.plan import Plan, plan_shards
from trailsweep.api.preflight import check_reachable
from trailsweep.base.errors import InputError
from trailsweep.cli.sweep_options import (
    SweepAccounts,
    SweepConfigFile,
    SweepConnectTimeout,
    SweepEndpointUrl,
    SweepExcludeAccounts,
    SweepExternalId,
    SweepProfile,
    SweepReadTimeout,
    SweepRegion,
    SweepRegions,
    SweepRoleName,
    SweepSessionName,
)
from trailsweep.settings.checks import check_environment, check_profile
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.limits import split_list
from trailsweep.settings.options import Options, load_config
from trailsweep.settings.shards import MAX_SHARDS

PlanShards = Annotated[
    int,
    typer.Option(
        "--shards",
        help=f"How many shards to deal the pairs over, 1..{MAX_SHARDS}: the N of "
        "`sweep --shard I/N`.",
        show_default=False,
    ),
]

PlanFormat = Annotated[
    str,
    typer.Option(
        "--format",
        help="table: one line per pair (account, region, shard), by shard, then the "
        'count of pairs of each shard; json: {"shards": N, "pairs": [{"account", '
        '"region", "shard"}], "per_shard": [...]}.',
    ),
]

FORMATS = ("table", "json")


def plan_command(
    shards: PlanShards,
    accounts: SweepAccounts = None,
    exclude_accounts: SweepExcludeAccounts = None,
    regions: SweepRegions = None,
    config: SweepConfigFile = None,
    role_name: SweepRoleName = None,
    external_id: SweepExternalId = None,
    session_name: SweepSessionName = None,
    profile: SweepProfile = None,
    region: SweepRegion = None,
    endpoint_url: SweepEndpointUrl = None,
    connect_timeout: SweepConnectTimeout = None,
    read_timeout: SweepReadTimeout = None,
    format: PlanFormat = "table",
) -> None:
    """Show which shard of `trailsweep sweep --shard I/N` sweeps each account and region.

    The pairs are discovered as `sweep` discovers them with the same options (STS,
    Organizations, the accounts' regions; no LookupEvents call) and dealt over N shards by
    the rule --shard applies: each account's regions go to consecutive shards from a start
    hashed from the account id, the same on every machine and in every run.
    """
    if not 1 <= shards <= MAX_SHARDS:
        raise InputError(f"--shards: {shards} shards; give a count from 1 to {MAX_SHARDS}")
    if format not in FORMATS:
        raise InputError(f"--format: {format!r} is not a format; give table or json")
    given = Options(
        accounts=None if accounts is None else split_list("--accounts", accounts),
        exclude_accounts=None if exclude_accounts is None
        else split_list("--exclude-accounts", exclude_accounts),
        regions=None if regions is None else split_list("--regions", regions),
        role_name=role_name, external_id=external_id, session_name=session_name,
        profile=profile, region=region, endpoint_url=endpoint_url,
        connect_timeout=connect_timeout, read_timeout=read_timeout,
    )  # fmt: skip
    opts = (load_config(config) if config is not None else Options()).overlay(given)
    opts.shard = None  # a plan shows every shard: a config's own shard is not this one's
    check_environment()
    settings = SweepSettings.from_options(opts, now=datetime.now(UTC))
    check_profile(settings.profile)
    check_reachable(settings)
    plan = anyio.run(plan_shards, settings, shards)
    out = sys.stdout.buffer
    if format == "json":
        out.write(orjson.dumps(plan.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    else:
        out.write(table(plan).encode())
    out.flush()


def table(plan: Plan) -> str:
    """One line per pair, then one per shard with its count of pairs."""
    wide = max([len("region"), *(len(r.region) for r in plan.rows)])
    lines = [f"{'account':<12}  {'region':<{wide}}  shard"]
    lines += [f"{r.account:<12}  {r.region:<{wide}}  {r.shard:>5}" for r in plan.rows]
    lines += ["", f"{'shard':>5}  pairs"]
    lines += [f"{i:>5}  {n:>5}" for i, n in enumerate(plan.per_shard)]
    return "\n".join(lines) + "\n"
