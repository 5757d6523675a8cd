"""Which accounts a sweep covers: `--accounts` and `--exclude-accounts`.

`--accounts` takes, comma-separated (or as a config list):
    org                   every ACTIVE account of the organization (alone: it holds the rest)
    ou-ab12-cdefgh12      every ACTIVE account under that OU, at any depth
    111122223333          that account (as given: it is not checked against the organization)
OU ids and account ids mix. `--exclude-accounts` takes account ids and OU ids (every
account under the OU, whatever its status) and removes them from that set.

Decisions:
- An excluded account that is not in the set is no error: an exclusion list is often kept
  for a whole organization and reused with several selections, as botocove users do.
- A set that ends up empty is bad input (exit 2, nothing written), not an empty sweep:
  exit 0 on an empty file would read as "no events" when nothing was asked at all. With
  only account ids it is refused before any call; with 'org' or OUs after the listing.
- An OU the organization does not have (ParentNotFoundException) is the user's input, so
  exit 2 naming the OU, though Organizations had to be asked to know it.
- `--exclude-accounts` needs `--accounts`: the caller's own account is the one default,
  and excluding it would leave nothing.

Resolving 'org' and OUs asks Organizations: `aws.discovery`.
"""

from __future__ import annotations

import re
from typing import Literal

from trailsweep.base.errors import InputError
from trailsweep.settings.names import ACCOUNT

# Organizations' own pattern for an OU id.
OU = re.compile(r"\Aou-[0-9a-z]{4,32}-[a-z0-9]{8,32}\Z")
_OU_FORM = "ou-, 4 to 32 lowercase letters or digits, -, 8 to 32 more (like ou-ab12-cdefgh12)"

Accounts = list[str] | Literal["org"] | None


def is_ou(name: str) -> bool:
    return OU.match(name) is not None


def _checked(flag: str, name: str, *, org_ok: bool) -> str:
    if ACCOUNT.match(name) or is_ou(name):
        return name
    if org_ok and name.lower() == "org":
        return "org"
    if name.lower().startswith("ou-"):
        raise InputError(f"{flag}: {name!r} is not an OU id; an OU id is {_OU_FORM}")
    also = ", or 'org' for every ACTIVE account" if org_ok else ""
    raise InputError(
        f"{flag}: {name!r} is not an account id or OU id; give 12-digit account ids "
        f"or OU ids (like ou-ab12-cdefgh12), comma-separated{also}"
    )


def parse_accounts(given: list[str] | None, excluded: list[str] | None) -> Accounts:
    """`--accounts` as the sweep keeps it: None (the caller's), 'org', or the sorted
    distinct account and OU ids; `excluded` is checked too (exclusions(...) gives it)."""
    exclusions(excluded)
    if not given:
        if excluded:
            raise InputError(
                "--exclude-accounts needs --accounts (org, OU ids or account ids) to "
                "exclude from; without it the sweep covers only the caller's account"
            )
        return None
    names = [_checked("--accounts", g, org_ok=True) for g in given]
    if "org" in names:
        if len(names) > 1:
            raise InputError(
                "--accounts: 'org' already holds every ACTIVE account; give it alone "
                "(--exclude-accounts leaves some out)"
            )
        return "org"
    chosen = sorted(set(names))
    fixed = fixed_accounts(chosen, excluded)
    if fixed == []:
        raise InputError(
            "--exclude-accounts excludes every account of --accounts; nothing to sweep"
        )
    return chosen


def exclusions(excluded: list[str] | None) -> list[str] | None:
    """`--exclude-accounts` as the sweep keeps it: None or the sorted distinct ids."""
    if not excluded:
        return None
    return sorted({_checked("--exclude-accounts", e, org_ok=False) for e in excluded})


def fixed_accounts(accounts: Accounts, excluded: list[str] | None) -> list[str] | None:
    """The accounts swept when they are known without asking Organizations (account ids
    only, minus excluded ids); None when 'org', an OU or the caller's account decides."""
    if not isinstance(accounts, list) or any(is_ou(a) for a in accounts):
        return None
    out = set(excluded or ())
    return [a for a in accounts if a not in out]
