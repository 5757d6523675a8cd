"""Which accounts a sweep covers, resolved: 'org' and OU ids of `--accounts` and
`--exclude-accounts` (parsed in `settings.selection`) turned into account ids.

Organizations is asked from the management account, as for 'org': ListAccountsForParent
and ListOrganizationalUnitsForParent for each OU below the one named, under the same
per-call timeouts and page limits as sessions.SessionPool.org_accounts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from trailsweep.aws import answers
from trailsweep.aws.sessions import SessionPool, _code, _failed_on_server, _server_fault
from trailsweep.aws.timeouts import control_config
from trailsweep.base.errors import BadAnswer, CredentialsError, InputError, ServerFailed
from trailsweep.settings.names import ACCOUNT, shown
from trailsweep.settings.selection import Accounts, is_ou

_MAX_UNITS = 10_000  # OUs walked under one named OU (AWS allows 1,000 per organization)


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
            pool.base, "organizations", None, config=control_config(pool.timeouts)
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
