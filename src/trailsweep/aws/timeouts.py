"""Applying the timeouts (`settings.timeouts`) to calls: aiohttp's and botocore's limits,
the outer bound on a control-plane call, and which limit a failed call ran into."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import anyio
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

from trailsweep.base.errors import TimedOut
from trailsweep.settings.timeouts import MAX_TIMEOUTS, Phase, Timeouts


def client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    """The lean path's per-call limits (aiohttp)."""
    return aiohttp.ClientTimeout(
        total=timeouts.connect + 2 * timeouts.read,
        sock_connect=timeouts.connect,
        sock_read=timeouts.read,
    )


def control_config(timeouts: Timeouts) -> Config:
    """botocore's settings for control-plane clients: these timeouts, standard retries
    (5xx, throttles, connection errors), `MAX_TIMEOUTS` tries in all."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": MAX_TIMEOUTS},
        connect_timeout=timeouts.connect,
        read_timeout=timeouts.read,
    )


@contextmanager
def control_step(what: str, timeouts: Timeouts) -> Iterator[None]:
    """Bound one control-plane call (`what`, e.g. "STS AssumeRole into 111122223333") by
    `timeouts.control_bound()`; running past it, or botocore giving up on timeouts, raises
    `TimedOut` naming the call and the settings."""
    try:
        with anyio.fail_after(timeouts.control_bound()):
            yield
    except (TimeoutError, ConnectTimeoutError, ReadTimeoutError):
        raise TimedOut(
            f"{what} timed out ({MAX_TIMEOUTS} tries, each within --connect-timeout "
            f"{timeouts.connect:g} s + --read-timeout {timeouts.read:g} s, "
            f"at most {timeouts.control_bound():g} s in all); raise --read-timeout if the network "
            "is this slow"
        ) from None


def timeout_phase(exc: BaseException) -> Phase | None:
    """Which limit a failed call ran into: 'connect', 'read', or None (not a timeout)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError | ConnectTimeoutError):
        return "connect"
    if isinstance(exc, ReadTimeoutError | aiohttp.SocketTimeoutError):
        return "read"
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return "read"  # the lean path's bound on the whole call
    return None


def timeouts_of(client: object) -> Timeouts:
    """The limits a LookupEvents client was made with (lean or aioboto3)."""
    own = getattr(client, "timeouts", None)
    if isinstance(own, Timeouts):
        return own
    config = getattr(getattr(client, "meta", None), "config", None)
    connect = getattr(config, "connect_timeout", None)
    read = getattr(config, "read_timeout", None)
    if isinstance(connect, int | float) and isinstance(read, int | float):
        return Timeouts(float(connect), float(read))
    return Timeouts()


def timed_out_reason(client: object, phase: Phase, times: int) -> str:
    """The pair's failure line: which limit, its value, and how to change it."""
    seconds = timeouts_of(client).seconds(phase)
    flag = f"--{phase}-timeout"
    what = "connecting" if phase == "connect" else "no answer"
    return (
        f"LookupEvents timed out {times} times in a row ({what} within {seconds:g} s); "
        f"raise {flag} if the network is this slow"
    )
