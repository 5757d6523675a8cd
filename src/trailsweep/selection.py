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

Organizations is asked from the management account, as for 'org': ListAccountsForParent
and ListOrganizationalUnitsForParent for each OU below the one named, under the same
per-call timeouts and page limits as sessions.SessionPool.org_accounts.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from trailsweep import answers
from trailsweep.errors import BadAnswer, CredentialsError, InputError, ServerFailed
from trailsweep.names import ACCOUNT, shown
from trailsweep.sessions import _code, _failed_on_server, _server_fault

if TYPE_CHECKING:
    from trailsweep.sessions import SessionPool

# Organizations' own pattern for an OU id.
OU = re.compile(r"\Aou-[0-9a-z]{4,32}-[a-z0-9]{8,32}\Z")
_OU_FORM = "ou-, 4 to 32 lowercase letters or digits, -, 8 to 32 more (like ou-ab12-cdefgh12)"
_MAX_UNITS = 10_000  # OUs walked under one named OU (AWS allows 1,000 per organization)

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


async def select_accounts(
    pool: SessionPool, accounts: Accounts, excluded: list[str] | None, caller: str
) -> list[str]:
    """The sorted accounts to sweep: the selection resolved, the exclusions removed."""
    if accounts is None:
        return [caller]
    if accounts == "org":
        chosen = set(await pool.org_accounts())
    else:
        chosen = {a for a in accounts if not is_ou(a)}
        for ou in (a for a in accounts if is_ou(a)):
            chosen |= set(await ou_accounts(pool, ou, "--accounts", active=True))
    out = {e for e in excluded or () if not is_ou(e)}
    for ou in (e for e in excluded or () if is_ou(e)):
        out |= set(await ou_accounts(pool, ou, "--exclude-accounts", active=False))
    left = sorted(chosen - out)
    if not left:
        what = " and --exclude-accounts leave" if excluded else " selects"
        raise InputError(
            f"--accounts {','.join(accounts) if isinstance(accounts, list) else accounts}"
            f"{what} no ACTIVE account; nothing to sweep"
        )
    return left


async def ou_accounts(pool: SessionPool, ou: str, flag: str, *, active: bool) -> list[str]:
    """The accounts under `ou` at any depth (only the ACTIVE ones if `active`)."""
    what = "Organizations ListAccountsForParent"
    found: list[str] = []
    try:
        async with pool.client(
            pool.base, "organizations", None, config=pool.timeouts.control_config()
        ) as org:
            todo, seen = [ou], {ou}
            while todo:
                parent = todo.pop()
                what = "Organizations ListAccountsForParent"
                async for page in _listing(pool, org, "list_accounts_for_parent", parent, what):
                    found += answers.active_accounts(page) if active else _all_ids(page, what)
                what = "Organizations ListOrganizationalUnitsForParent"
                listing = _listing(pool, org, "list_organizational_units_for_parent", parent, what)
                async for page in listing:
                    for child in _unit_ids(page, what):
                        if child not in seen:
                            seen.add(child)
                            todo.append(child)
                if len(seen) > _MAX_UNITS:
                    raise BadAnswer(f"{what}: more than {_MAX_UNITS} OUs under {ou}")
    except ClientError as err:
        if _code(err) == "ParentNotFoundException":
            raise InputError(
                f"{flag}: the organization has no OU {ou} (ParentNotFoundException); "
                "check the id (aws organizations list-organizational-units-for-parent)"
            ) from None
        if _server_fault(err):
            raise _failed_on_server(what, err) from None
        raise CredentialsError(
            f"{flag} {ou}: {what} failed ({_code(err)}); run it with credentials of the "
            "organization's management account, or list account ids"
        ) from None
    except BotoCoreError as err:
        raise ServerFailed(
            f"{flag} {ou}: cannot reach Organizations ({type(err).__name__})"
        ) from None
    return found


def _listing(pool: SessionPool, org: Any, op: str, parent: str, what: str) -> AsyncIterator[Any]:
    listing = org.get_paginator(op).paginate(ParentId=parent)
    return answers.pages(what, listing, limit=answers.ORG_PAGES, timeouts=pool.timeouts)


def _all_ids(page: dict[str, Any], what: str) -> list[str]:
    ids = []
    for item in answers.field(page, "Accounts", list, what):
        account = answers.field(item, "Id", str, what)
        if not ACCOUNT.match(account):
            raise BadAnswer(f"{what}: the account id {shown(account)} is not 12 digits")
        ids.append(account)
    return ids


def _unit_ids(page: dict[str, Any], what: str) -> list[str]:
    ids = []
    for item in answers.field(page, "OrganizationalUnits", list, what):
        unit = answers.field(item, "Id", str, what)
        if not is_ou(unit):
            raise BadAnswer(f"{what}: {shown(unit)} is not an OU id")
        ids.append(unit)
    return ids
