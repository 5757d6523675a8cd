"""Region names: which ones AWS has, the closest to a mistyped one, and what a region
that is not enabled in an account looks like from LookupEvents.

A mistyped region (`--regions us-eats-1`) is shaped like a region, so botocore builds an
endpoint for it and the sweep would fail every pair with a credentials error that points
the wrong way. So `--regions` and `--region` are checked, before any call, against the
regions of botocore's partition data (aws, aws-cn, aws-us-gov, the ISO partitions...):
a name that is not among them is refused (exit 2) with the closest known name.

Decision: a name that fits the region pattern but is not in botocore's data is refused
too; AWS would not know it either. The one case where that is wrong is a region newer
than the installed botocore, so the message says to upgrade it. The emulator serves only
real region names (emulator/world.py), so it needs no exception.

A region that exists but is not enabled in an account (an opt-in region, af-south-1 say)
does not know the account's credentials: LookupEvents there answers
UnrecognizedClientException, "The security token included in the request is invalid",
which reads like a credentials problem. `not_enabled_reason` says what it means instead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import botocore
import botocore.loaders
from botocore.exceptions import DataNotFoundError

from trailsweep.base.errors import InputError
from trailsweep.settings.names import shown

# What LookupEvents answers in a region that is not enabled for the caller's account.
NOT_ENABLED_CODE = "UnrecognizedClientException"


def known_regions() -> frozenset[str]:
    """Every region of every partition in botocore's data (its `-global` pseudo-regions
    left out). Read on each call (a few milliseconds): nothing is kept process-wide."""
    loader = botocore.loaders.create_loader()
    names: set[str] = set()
    try:
        for partition in loader.load_data("partitions")["partitions"]:
            names.update(partition.get("regions") or ())
    except DataNotFoundError:  # an older botocore: the endpoint data has the same lists
        for partition in loader.load_data("endpoints")["partitions"]:
            names.update(partition.get("regions") or ())
    return frozenset(n for n in names if not n.endswith("-global"))


def check_known(names: Iterable[str], option: str) -> None:
    """Refuse (InputError, exit 2) the first of `names` that is not a known region."""
    known: frozenset[str] | None = None
    for name in names:
        known = known if known is not None else known_regions()
        if name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        fix = f"did you mean {close[0]}?" if close else "give names such as us-east-1"
        raise InputError(
            f"{option}: {shown(name)} is not an AWS region; {fix} (it is not among the "
            f"regions botocore {botocore.__version__} knows: upgrade it for a newer region)"
        )


def not_enabled_reason(account: str, region: str, message: str) -> str:
    """A pair's failure line for UnrecognizedClientException from LookupEvents: the
    account's credentials work elsewhere (STS issued or checked them before any
    LookupEvents call), so the region does not know the account."""
    return (
        f"region {region} is not enabled in account {account} (LookupEvents there refused "
        f"the account's credentials: {message}); enable the region in that account, or "
        "leave it out of --regions"
    )
