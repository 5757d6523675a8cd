"""Organizations' tree actions (JSON 1.1, as AWS answers them): ListRoots,
ListOrganizationalUnitsForParent, ListAccountsForParent and ListChildren over the world's
OU tree (world.World._tree). ListAccounts is services.list_accounts.

Like ListAccounts, they answer only the management account; an unknown ParentId is
ParentNotFoundException (400), as AWS answers it. Pages hold at most 20 items; NextToken
is an offset, as services' tokens are. Each request counts in services.calls.
"""

from __future__ import annotations

from typing import Any

import orjson

from trailsweep.emulator.protocol import ApiError
from trailsweep.emulator.services import account_entry, calls, page_of
from trailsweep.emulator.world import Principal, World

OPERATIONS = (
    "ListRoots", "ListOrganizationalUnitsForParent", "ListAccountsForParent", "ListChildren",
)  # fmt: skip


def answer(world: World, op: str, caller: Principal, req: dict[str, Any]) -> bytes:
    """The JSON body of one of OPERATIONS."""
    calls(world)[op] += 1
    if caller.account != world.management.id:
        raise ApiError(
            "AccessDeniedException",
            f"You don't have permissions to access this resource: call {op} "
            "from the organization's management account.",
        )
    org = f"o-{world.management.id[:10]}"
    arn = f"arn:aws:organizations::{world.management.id}"
    if op == "ListRoots":
        root = {"Id": world.root_id, "Arn": f"{arn}:root/{org}/{world.root_id}", "Name": "Root"}
        return orjson.dumps(page_of("Roots", [{**root, "PolicyTypes": []}], req))
    parent = _parent(world, req)
    if op == "ListOrganizationalUnitsForParent":
        units = [
            {"Id": u.id, "Arn": f"{arn}:ou/{org}/{u.id}", "Name": u.name}
            for u in world.units
            if u.parent == parent
        ]
        return orjson.dumps(page_of("OrganizationalUnits", units, req))
    if op == "ListAccountsForParent":
        accounts = [
            account_entry(world, a) for a in world.accounts if world.parent_of[a.id] == parent
        ]
        return orjson.dumps(page_of("Accounts", accounts, req))
    kind = req.get("ChildType")
    if kind == "ACCOUNT":
        ids = [a.id for a in world.accounts if world.parent_of[a.id] == parent]
    elif kind == "ORGANIZATIONAL_UNIT":
        ids = [u.id for u in world.units if u.parent == parent]
    else:
        raise ApiError("InvalidInputException", "ChildType must be ACCOUNT or ORGANIZATIONAL_UNIT.")
    children = [{"Id": i, "Type": kind} for i in ids]
    return orjson.dumps(page_of("Children", children, req))


def _parent(world: World, req: dict[str, Any]) -> str:
    parent = req.get("ParentId")
    if not isinstance(parent, str) or not parent:
        raise ApiError("InvalidInputException", "ParentId is required.")
    if parent != world.root_id and all(u.id != parent for u in world.units):
        raise ApiError(
            "ParentNotFoundException",
            "We can't find a root or OU with the ParentId that you specified.",
        )
    return parent
