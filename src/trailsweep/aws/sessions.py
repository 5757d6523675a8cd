"""Credentials and sessions: the base session from the standard AWS chain, one session per
member account with refreshable AssumeRole credentials, and discovery of the matrix
(Organizations ListAccounts; Account ListRegions, or EC2 DescribeRegions where it is refused).

aioboto3 does what it is good at here: the credential chain (--profile, env vars, config
files), SigV4, endpoint resolution including AWS_ENDPOINT_URL. AssumeRole credentials are
`AioDeferredRefreshableCredentials`: fetched on first use, renewed by botocore before they
expire, so a long export never dies of expiry. Secrets never leave these objects.

Every control-plane call here is bounded by the sweep's --connect-timeout/--read-timeout
(timeouts.control_step); an AssumeRole that timed out fails its account at once from then
on, so the account's other pairs do not wait out the same silence again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any, Protocol

import aioboto3
import anyio
from aiobotocore.credentials import AioDeferredRefreshableCredentials
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from trailsweep.aws import answers
from trailsweep.aws.retry import classify
from trailsweep.aws.timeouts import control_config
from trailsweep.base.errors import BadAnswer, CredentialsError, InputError, ServerFailed, TimedOut
from trailsweep.base.sanitize import Secrets
from trailsweep.settings.names import is_region, shown
from trailsweep.settings.timeouts import Timeouts


class FrozenCredentials(Protocol):
    """One moment's keys (botocore's ReadOnlyCredentials)."""

    @property
    def access_key(self) -> str: ...
    @property
    def secret_key(self) -> str: ...
    @property
    def token(self) -> str | None: ...


class Credentials(Protocol):
    """What signing a call needs of an account's credentials (botocore's, refreshable or
    not): their keys now, renewed first when they are about to expire.

        frozen = await (await pool.credentials(account)).get_frozen_credentials()
    """

    async def get_frozen_credentials(self) -> FrozenCredentials: ...


# What `--regions all` sweeps: regions usable now (not ENABLING, DISABLING or DISABLED).
_ENABLED_STATUSES = ("ENABLED", "ENABLED_BY_DEFAULT")


class SessionPool:
    """One aioboto3 session per account, all derived from the base credentials."""

    regions_page_size = 50  # MaxResults of each ListRegions call (the API's maximum)

    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        role_name: str = "OrganizationAccountAccessRole",
        external_id: str | None = None,
        session_name: str = "trailsweep",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        timeouts: Timeouts | None = None,
        secrets: Secrets | None = None,
    ) -> None:
        # Control-plane calls (STS, Organizations, Account, EC2) are few and not under our
        # limiter, so botocore's own standard retries are right for them, within bounds.
        self.timeouts = timeouts or Timeouts()
        # Every credential this pool loads or assumes, for its owner to redact from server
        # text (retry.classify): the pool's own set, never one shared across the process.
        self.secrets = secrets if secrets is not None else Secrets()
        self._control = control_config(self.timeouts)
        try:
            self.base = aioboto3.Session(
                profile_name=profile,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
            )
        except BotoCoreError as err:  # e.g. ProfileNotFound
            raise CredentialsError(f"--profile: {err}") from None
        self.region = region or self.base.region_name or None  # "" (an empty variable): unset
        if self.region is not None and not is_region(self.region):
            # From a profile's config file: flags and AWS_* were checked before this.
            raise InputError(
                f"the AWS config gives the region {shown(self.region)}, not a region name; "
                "fix the profile's region or pass --region"
            )
        self.endpoint_url = endpoint_url
        self.role_name = role_name
        self.external_id = external_id
        self.session_name = session_name
        self.caller_account = ""
        self._sessions: dict[str, aioboto3.Session] = {}
        self._credentials: dict[str, AioDeferredRefreshableCredentials] = {}
        self._stack = AsyncExitStack()
        self._shared_clients: dict[str, Any] = {}
        self._shared_lock = anyio.Lock()
        self._account_api_unreachable = False
        self._assume_timed_out: dict[str, str] = {}  # account -> its TimedOut message

    async def __aenter__(self) -> SessionPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._shared_clients.clear()
        await self._stack.aclose()

    async def _shared(self, service: str) -> Any:
        """One base-credential client of `service` for the whole pool, made on first use
        (under a lock: discovery asks from many tasks at once) and closed with the pool."""
        async with self._shared_lock:
            client = self._shared_clients.get(service)
            if client is None:
                client = await self._stack.enter_async_context(
                    self.client(self.base, service, None, config=self._control)
                )
                self._shared_clients[service] = client
        return client

    async def _sts(self) -> Any:
        """One STS client for every AssumeRole (a botocore client costs ~15 ms of CPU to
        make; at 250 accounts, one each was most of a sweep's start-up)."""
        return await self._shared("sts")

    def client(self, session: aioboto3.Session, service: str, region: str | None, **kw: Any) -> Any:
        """An async client context manager for `service` in `region`."""
        return session.client(
            service,
            region_name=region or self.region or "us-east-1",
            endpoint_url=self.endpoint_url,
            **kw,
        )

    async def identify(self) -> str:
        """The caller's account (GetCallerIdentity); a missing credential is an InputError."""
        try:
            async with self.client(self.base, "sts", None, config=self._control) as sts:
                ident = await answers.asked(
                    "STS GetCallerIdentity", sts.get_caller_identity(), self.timeouts
                )
        except NoCredentialsError:
            raise CredentialsError(
                "no AWS credentials found; use --profile, set AWS_PROFILE, or set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ) from None
        except NoRegionError:
            raise InputError("no region; pass --regions or set AWS_REGION") from None
        except ClientError as err:
            if _server_fault(err):
                raise _failed_on_server("STS GetCallerIdentity", err) from None
            raise CredentialsError(
                f"the base credentials were refused by STS ({_code(err)}); check --profile "
                "or the AWS_* environment variables"
            ) from None
        except BotoCoreError as err:
            # Unreachable is the server's (or the network's) fault, not bad input: exit 1.
            raise ServerFailed(f"cannot reach STS: {err}") from None
        self.caller_account = answers.caller_account(ident)
        await _remember(await self.base.get_credentials(), self.secrets)
        return self.caller_account

    def _assumed(self, account: str) -> AioDeferredRefreshableCredentials:
        """The account's refreshable AssumeRole credentials, made once (no call yet)."""
        creds = self._credentials.get(account)
        if creds is None:
            creds = AioDeferredRefreshableCredentials(
                refresh_using=self._assume(account), method="assume-role"
            )
            self._credentials[account] = creds
        return creds

    def for_account(self, account: str) -> aioboto3.Session:
        """A full aioboto3 session for the account (only the --no-lean path needs one: a
        botocore session costs tens of MB, so the lean path shares the base session's)."""
        if account == self.caller_account:
            return self.base
        session = self._sessions.get(account)
        if session is None:
            botocore_session = AioSession()
            botocore_session._credentials = self._assumed(account)
            session = aioboto3.Session(botocore_session=botocore_session, region_name=self.region)
            self._sessions[account] = session
        return session

    async def credentials(self, account: str) -> Credentials:
        """The account's credentials object (refreshable for assumed roles); the lean
        LookupEvents path asks it for frozen credentials before every call."""
        if account != self.caller_account:
            assumed: Credentials = self._assumed(account)
            return assumed
        creds: Credentials | None = await self.base.get_credentials()
        if creds is None:
            raise CredentialsError(
                "no AWS credentials found; use --profile, set AWS_PROFILE, or set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        await _remember(creds, self.secrets)
        return creds

    async def endpoint(self, service: str, region: str) -> str:
        """Where `service` answers in `region` (AWS_ENDPOINT_URL and --endpoint-url count)."""
        async with self.client(self.base, service, region) as client:
            return str(client.meta.endpoint_url)

    def refresher(self, account: str) -> Callable[[], Awaitable[None]] | None:
        """What to call when a call of `account` gets ExpiredTokenException: renew its
        AssumeRole session now (botocore renews before the expiry it knows of, but the
        server's clock is the one that counts). None for the caller's own credentials."""
        if account == self.caller_account:
            return None

        async def refresh() -> None:
            creds = self._assumed(account)
            # botocore has no public "refresh now"; this is what its own mandatory refresh
            # does, under the same lock.
            async with creds._refresh_lock:
                await creds._protected_refresh(is_mandatory=True)

        return refresh

    def _assume(self, account: str) -> Callable[[], Awaitable[dict[str, str]]]:
        arn = f"arn:aws:iam::{account}:role/{self.role_name}"

        async def refresh() -> dict[str, str]:
            if account in self._assume_timed_out:
                raise TimedOut(self._assume_timed_out[account])
            params = {"RoleArn": arn, "RoleSessionName": self.session_name}
            if self.external_id:
                params["ExternalId"] = self.external_id
            what = f"STS AssumeRole into {account}"
            sts = await self._sts()
            try:
                resp = await answers.asked(what, sts.assume_role(**params), self.timeouts)
            except TimedOut as err:
                self._assume_timed_out[account] = err.message
                raise
            # The real clock, not an injected one: botocore checks the expiry against it.
            fresh = answers.assumed_credentials(resp, account, datetime.now(UTC))
            self.secrets.remember(fresh["access_key"], fresh["secret_key"], fresh["token"])
            return fresh

        return refresh

    async def org_accounts(self) -> list[str]:
        """ACTIVE accounts of the organization, from the management account."""
        ids: list[str] = []
        what = "Organizations ListAccounts"
        try:
            # The caller's region, not a fixed us-east-1: botocore then finds the
            # partition's global Organizations endpoint (aws-cn, aws-us-gov included).
            async with self.client(self.base, "organizations", None, config=self._control) as org:
                listing = org.get_paginator("list_accounts").paginate()
                pages = answers.pages(
                    what, listing, limit=answers.ORG_PAGES, timeouts=self.timeouts
                )
                async for page in pages:
                    ids.extend(answers.active_accounts(page))
        except ClientError as err:
            if _server_fault(err):
                raise _failed_on_server(what, err) from None
            raise CredentialsError(
                f"--accounts org: Organizations ListAccounts failed ({_code(err)}); run it with "
                "credentials of the organization's management account, or list account ids"
            ) from None
        except BotoCoreError as err:
            raise ServerFailed(
                f"--accounts org: cannot reach Organizations ({type(err).__name__})"
            ) from None
        if not ids:
            # An organization always holds its ACTIVE management account: an empty list
            # is a broken answer, not an organization with nothing to sweep (exit 0 on an
            # empty export would hide it).
            raise BadAnswer(f"{what}: no ACTIVE account listed (not even the management one)")
        return sorted(set(ids))

    async def enabled_regions(self, account: str) -> list[str]:
        """Regions enabled for the account, sorted.

        Asked of the Account API from the caller's own (management) account: ListRegions
        with AccountId, all on ONE shared client, with no AssumeRole. The way before was
        EC2 DescribeRegions as each account, which costs every account an AssumeRole call
        and a botocore client of its own (~35 ms of client CPU per account in all). Measured
        against the emulator on 127.0.0.1, both ways alternating in one run, an org of 50
        members: resolve_matrix ~2.0 s -> ~0.17 s wall and CPU alike (11-12x in two runs),
        105 -> 55 requests, 51 EC2 clients -> 1 Account client; 250 members: 28x wall, 32x
        CPU. On a real network the wall time saved is a round trip less per account too.

        Where ListRegions is refused for an account (no trusted access for the Account
        Management service, the caller not the management account or a delegated admin,
        an account outside the organization, an endpoint without the Account API) or fails
        otherwise, that account falls back to DescribeRegions as before, so whatever listed
        regions then still does, and a failure raised is the fallback's. Once the Account
        API cannot be reached at all, the remaining accounts go straight to the fallback."""
        if self._account_api_unreachable:
            return await self._describe_regions(account)
        try:
            return await self._list_regions(account)
        except (ClientError, BadAnswer):
            # A ListRegions answer that cannot be used is treated as a refusal: the
            # account's own DescribeRegions may still answer well.
            return await self._describe_regions(account)
        except (BotoCoreError, TimedOut):
            # A timeout too: an Account API silent for one account is likely silent for
            # the next, and each account's own DescribeRegions is bounded the same way.
            self._account_api_unreachable = True
            return await self._describe_regions(account)

    async def _list_regions(self, account: str) -> list[str]:
        """Account ListRegions for `account`, every page. The API refuses the caller's own
        id as AccountId (the caller's account is asked by leaving it out)."""
        params: dict[str, Any] = {
            "RegionOptStatusContains": list(_ENABLED_STATUSES),
            "PaginationConfig": {"PageSize": self.regions_page_size},
        }
        if account != self.caller_account:
            params["AccountId"] = account
        regions: list[str] = []
        what = "Account ListRegions"
        listing = (await self._shared("account")).get_paginator("list_regions").paginate(**params)
        pages = answers.pages(what, listing, limit=answers.REGION_PAGES, timeouts=self.timeouts)
        async for page in pages:
            regions.extend(answers.region_names(page, what))
        return _some(regions, what)

    async def _describe_regions(self, account: str) -> list[str]:
        """EC2 DescribeRegions as the account itself (its AssumeRole credentials, one EC2
        client per call): what discovery falls back to where ListRegions is refused."""
        keys: dict[str, str | None] = {}
        if account != self.caller_account:
            frozen = await self._assumed(account).get_frozen_credentials()
            keys = {
                "aws_access_key_id": frozen.access_key,
                "aws_secret_access_key": frozen.secret_key,
                "aws_session_token": frozen.token,
            }
        what = "EC2 DescribeRegions"
        async with self.client(self.base, "ec2", None, config=self._control, **keys) as ec2:
            resp = await answers.asked(what, ec2.describe_regions(), self.timeouts)
        return _some(answers.region_names(resp, what), what)


async def _remember(creds: Credentials | None, secrets: Secrets) -> None:
    """Have `secrets` redact the base credentials wherever a server echoes them."""
    if creds is not None:
        frozen = await creds.get_frozen_credentials()
        secrets.remember(frozen.access_key, frozen.secret_key, frozen.token)


def _some(regions: list[str], what: str) -> list[str]:
    """The distinct regions, sorted; none at all is a bad answer (every account has its
    default regions enabled), not an account with nothing to sweep."""
    if not regions:
        raise BadAnswer(f"{what}: no enabled region listed")
    return sorted(set(regions))


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", "Unknown"))


def _server_fault(err: ClientError) -> bool:
    """A refusal that is the service's trouble, not the caller's: 5xx, a server error code
    or throttling still there after botocore's retries (retry.classify's kinds)."""
    return classify(err)[0] in ("retry", "throttle")


def _failed_on_server(what: str, err: ClientError) -> ServerFailed:
    """Exit 1 naming the call and the service's fault (its code as classify cleaned it)."""
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
    return ServerFailed(
        f"{what} failed on the server's side ({classify(err)[1]}, HTTP {status}) after "
        "retries; this is not your input: try again later"
    )
