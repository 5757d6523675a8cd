"""Each pair's LookupEvents client, made one way for every command that calls LookupEvents
(`engine.sweep` for many pairs, `engine.single_pair` for one):

    SessionPool -> the region's endpoint -> the account's credentials -> LeanLookup

on one HTTP session shared by every pair (`lean.http_session`), or, with `lean=False`,
aioboto3's client with the orjson parse hook (`client.install_fast_parser`), for
comparison. The pair's limiter is made beside it (`engine.pair.PairContext.open`).

    async with lookup_clients(pool, pairs=len(pairs), timeouts=t) as clients:
        client = await clients.for_pair("111122223333", "eu-west-1")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp

from trailsweep.aws.client import LookupClient, install_fast_parser, lookup_config
from trailsweep.aws.lean import LeanLookup, http_session
from trailsweep.aws.sessions import SessionPool
from trailsweep.settings.timeouts import Timeouts


class LookupClients:
    """Makes the LookupEvents client of each pair: a `LeanLookup` on `http` when there is
    one, else aioboto3's client (closed with `stack`). The region's endpoint is asked for
    once per region."""

    __slots__ = ("_endpoints", "_http", "_pool", "_stack", "_timeouts")

    def __init__(
        self, pool: SessionPool, stack: AsyncExitStack, http: aiohttp.ClientSession | None,
        timeouts: Timeouts | None = None,
    ) -> None:  # fmt: skip
        self._pool, self._stack, self._http, self._timeouts = pool, stack, http, timeouts
        self._endpoints: dict[str, str] = {}

    async def for_pair(self, account: str, region: str) -> LookupClient:
        """The client that calls LookupEvents for `account` in `region`."""
        pool = self._pool
        if self._http is None:
            session = pool.for_account(account)
            client: LookupClient = await self._stack.enter_async_context(
                pool.client(session, "cloudtrail", region, config=lookup_config(self._timeouts))
            )
            install_fast_parser(client)
            return client
        if region not in self._endpoints:
            self._endpoints[region] = await pool.endpoint("cloudtrail", region)
        creds = await pool.credentials(account)
        return LeanLookup(self._http, creds, region, self._endpoints[region])


@asynccontextmanager
async def lookup_clients(
    pool: SessionPool, *, pairs: int, timeouts: Timeouts | None = None, chains: int = 1,
    lean: bool = True,
) -> AsyncIterator[LookupClients]:  # fmt: skip
    """`LookupClients` for `pairs` pairs of up to `chains` NextToken chains each (the size of
    the shared connection pool), every call bounded by `timeouts`; all closed on exit."""
    async with AsyncExitStack() as stack:
        http = (
            await stack.enter_async_context(http_session(pairs, timeouts, chains=chains))
            if lean
            else None
        )
        yield LookupClients(pool, stack, http, timeouts)
