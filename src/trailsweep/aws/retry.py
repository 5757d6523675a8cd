"""Which LookupEvents failures are worth another try, and how long to wait before it.

botocore's own retries are off for LookupEvents (see `client.lookup_config`): every attempt
must pass through the pair's limiter, and a throttle must be seen by us, not hidden.
"""

from __future__ import annotations

import asyncio
import random
from typing import Literal

import aiohttp
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from trailsweep.base.sanitize import Secrets, clean

Kind = Literal["throttle", "retry", "expired", "token", "fatal"]
_SERVER_CODES = {
    "InternalFailure",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
}
_EXPIRED_CODES = {"ExpiredTokenException", "ExpiredToken", "RequestExpired"}


_CODE_LIMIT = 100


def classify(exc: BaseException, secrets: Secrets | None = None) -> tuple[Kind, str, str]:
    """(kind, code, message) of a failed call, code and message `sanitize.clean`ed (and
    the credentials in `secrets`, those of the sweep that made the call, redacted): they
    are the server's words, and go to stderr, the summary and the checkpoint."""
    kind, code, message = _classify(exc)
    if secrets is None:
        return kind, clean(code, _CODE_LIMIT), clean(message)
    return kind, secrets.clean(code, _CODE_LIMIT), secrets.clean(message)


def _classify(exc: BaseException) -> tuple[Kind, str, str]:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "Unknown"))
        message = str(err.get("Message", "")) or code
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
            return "throttle", code, message
        if code in _EXPIRED_CODES:
            return "expired", code, message
        if code == "InvalidNextTokenException":
            return "token", code, message
        if status >= 500 or code in _SERVER_CODES:
            return "retry", code, message
        return "fatal", code, message
    if isinstance(exc, BotoConnectionError | HTTPClientError | aiohttp.ClientError):
        return "retry", type(exc).__name__, str(exc).splitlines()[0][:200]
    if isinstance(exc, asyncio.TimeoutError | ConnectionError):
        return "retry", type(exc).__name__, "timed out or connection lost"
    return "fatal", type(exc).__name__, str(exc)[:200]


class Backoff:
    """Exponential backoff with full jitter: wait U(0, min(cap, base * 2**n))."""

    __slots__ = ("base", "cap", "rng")

    def __init__(self, base: float = 0.25, cap: float = 20.0, rng: random.Random | None = None):
        self.base = base
        self.cap = cap
        self.rng = rng or random.Random()

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0.0, min(self.cap, self.base * (2.0**attempt)))


class RetryBudget:
    """A pair's retry allowance, like the AWS SDKs' retry quota: a retry costs `cost`,
    a success refunds 1, up to `capacity`. Sporadic faults never exhaust it over a long
    run (5% errors cost 25 and refund 95 per 100 calls); a pair that keeps failing does,
    and is then marked failed so the sweep goes on without it."""

    __slots__ = ("capacity", "cost", "tokens")

    def __init__(self, capacity: float = 100.0, cost: float = 5.0) -> None:
        self.capacity = capacity
        self.cost = cost
        self.tokens = capacity

    def spend(self) -> bool:
        """Take the cost of one retry; False when the budget cannot pay for it."""
        if self.tokens < self.cost:
            return False
        self.tokens -= self.cost
        return True

    def refund(self) -> None:
        self.tokens = min(self.capacity, self.tokens + 1.0)
