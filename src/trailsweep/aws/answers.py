"""Checks on what STS, Organizations, Account and EC2 answered, before trailsweep uses it.

botocore parses these answers, but a hostile or broken server still gets through it:
garbage makes its parsers raise ResponseParserError, `null` or `[]` where an object
belongs raise AttributeError inside botocore, fields may be missing or of another type,
a paginator may be handed the same NextToken forever (botocore's guard raises
PaginationError) or a new one forever. Account ids and region names from a server end
up in file paths, checkpoints, NDJSON lines and signed URLs, so they are checked for
their shape (names.py) like the user's. Everything that fails here is a `BadAnswer`
(exit 1): a server problem, not the user's input.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, PaginationError

from trailsweep.aws.timeouts import control_step
from trailsweep.base.errors import BadAnswer, TrailsweepError
from trailsweep.settings.names import is_account, is_region, shown
from trailsweep.settings.timeouts import Timeouts

T = TypeVar("T")

# Pages a control-plane listing may take before it is taken for an endless one. The
# largest honest listings: Organizations ListAccounts at 20 accounts a page (an
# organization of 10,000 accounts is 500 pages), Account ListRegions at 50 a page (~40
# regions exist: one page).
ORG_PAGES = 1000
REGION_PAGES = 20


def unreadable(what: str, err: BaseException) -> BadAnswer:
    """The BadAnswer for an answer botocore could not parse; only the error's class is
    named (its text quotes the raw body, which a hostile server writes)."""
    return BadAnswer(
        f"{what}: the server's answer could not be read ({type(err).__name__}); "
        "check --endpoint-url / AWS_ENDPOINT_URL"
    )


async def asked(what: str, call: Awaitable[T], timeouts: Timeouts) -> T:
    """Await one control-plane call, bounded by `timeouts` (`timeouts.control_step`: a
    TimedOut past it). ClientError (the API said no) and BotoCoreError (no connection, no
    credentials) pass through for the caller to word; anything else the call raises is
    botocore choking on the answer, so it becomes BadAnswer."""
    try:
        with control_step(what, timeouts):
            return await call
    except (ClientError, BotoCoreError, TrailsweepError):
        raise
    except Exception as err:
        raise unreadable(what, err) from None


async def pages(
    what: str, pager: AsyncIterable[T], *, limit: int, timeouts: Timeouts
) -> AsyncIterator[T]:
    """A botocore paginator's pages, each call bounded like `asked`'s; a NextToken seen
    twice or more than `limit` pages is a BadAnswer instead of a loop without end."""
    it = aiter(pager)
    for _ in range(limit):
        try:
            with control_step(what, timeouts):
                page = await anext(it)
        except StopAsyncIteration:
            return
        except PaginationError:
            raise BadAnswer(
                f"{what}: the server sent the same NextToken twice (a listing without end)"
            ) from None
        except (ClientError, BotoCoreError, TrailsweepError):
            raise
        except Exception as err:
            raise unreadable(what, err) from None
        if not isinstance(page, dict):
            raise BadAnswer(f"{what}: a page is not a JSON object")
        yield page
    raise BadAnswer(f"{what}: still not finished after {limit} pages (a listing without end)")


def field(doc: Any, key: str, kind: type[T], what: str) -> T:
    """`doc[key]`, which must be a `kind`; a BadAnswer naming the field otherwise."""
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, kind):
        got = "missing" if value is None else f"of type {type(value).__name__}"
        raise BadAnswer(f"{what}: {key} is {got}, not {kind.__name__}")
    return value


def caller_account(ident: Any) -> str:
    """The caller's account from a GetCallerIdentity answer."""
    what = "STS GetCallerIdentity"
    account = field(ident, "Account", str, what)
    if not is_account(account):
        raise BadAnswer(f"{what}: the account {shown(account)} is not a 12-digit id")
    return account


def active_accounts(page: dict[str, Any]) -> list[str]:
    """The ACTIVE account ids of one ListAccounts page; any entry of the wrong shape fails
    the whole listing: a server that names one account wrongly cannot be trusted to have
    named the others right, and a guessed matrix would sweep the wrong thing quietly."""
    what = "Organizations ListAccounts"
    ids = []
    for item in field(page, "Accounts", list, what):
        account = field(item, "Id", str, what)
        if not is_account(account):
            raise BadAnswer(f"{what}: the account id {shown(account)} is not 12 digits")
        if field(item, "Status", str, what) == "ACTIVE":
            ids.append(account)
    return ids


def region_names(doc: dict[str, Any], what: str) -> list[str]:
    """The region names of a ListRegions page or a DescribeRegions answer."""
    names = []
    for item in field(doc, "Regions", list, what):
        name = field(item, "RegionName", str, what)
        if not is_region(name):
            raise BadAnswer(f"{what}: {shown(name)} is not a region name")
        names.append(name)
    return names


def assumed_credentials(resp: Any, account: str, now: datetime) -> dict[str, str]:
    """botocore's refresh dict from an AssumeRole answer. The keys go into signed headers
    (a newline there would split a header), so each must be printable ASCII with no space.
    An Expiration already past at `now` (this machine's clock, which botocore checks it
    against) is a BadAnswer naming both clocks: botocore would only say "refreshed
    credentials are still expired", and the usual cause is a clock that is off."""
    what = f"STS AssumeRole into {account}"
    creds = field(resp, "Credentials", dict, what)
    out = {}
    for key, name in (
        ("AccessKeyId", "access_key"),
        ("SecretAccessKey", "secret_key"),
        ("SessionToken", "token"),
    ):
        value = field(creds, key, str, what)
        if not value or not value.isascii() or not value.isprintable() or " " in value:
            raise BadAnswer(f"{what}: {key} is not a usable key (empty or odd characters)")
        out[name] = value
    expiry = field(creds, "Expiration", datetime, what)
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=UTC)
    if expiry <= now:
        raise BadAnswer(
            f"{what}: the credentials expire at {_utc(expiry)}, already past by this "
            f"machine's clock ({_utc(now)}); check the clock here (or the server's)"
        )
    out["expiry_time"] = expiry.isoformat()
    return out


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
