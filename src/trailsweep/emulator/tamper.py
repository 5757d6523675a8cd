"""A seam for hostile-server tests: let a test answer any authenticated request itself.

The emulator stays an honest server; a test that needs a dishonest one (pages out of
order, endless NextTokens, bodies that never end, bad STS or Organizations answers) sets
``Emulator.tamper`` to a coroutine. It sees each request after authentication, with the
honest answer one ``await honest()`` away, and returns whatever response it likes:

    async def reverse(call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation != "LookupEvents":
            return await honest()
        ...

Not reachable from the command line: only code holding the Emulator object can set it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Call:
    """One authenticated AWS request, as the emulator understood it."""

    service: str  # "cloudtrail", "organizations", "account", "sts" or "ec2"
    operation: str  # "LookupEvents", "ListAccounts", "ListRegions", "AssumeRole", ...
    params: dict[str, Any]  # the JSON body, or the query protocol's form fields
    account: str  # the caller's account
    region: str  # from the credential scope
    request: web.Request


Honest = Callable[[], Awaitable[web.StreamResponse]]
Tamper = Callable[[Call, Honest], Awaitable[web.StreamResponse]]
