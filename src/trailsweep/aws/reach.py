"""A configured endpoint that refuses connections fails the sweep in about a second.

botocore retries a refused connection like any transient fault: STS GetCallerIdentity, the
first call of a sweep, made 5 attempts with exponential backoff, and `--endpoint-url
http://127.0.0.1:1` took 14-23 s to say "Could not connect" (lookup-events: 27 s). A
refused connection is not transient the way a dropped one is: nothing listens there. So
before the first call, the endpoint the user configured (`--endpoint-url`, else
AWS_ENDPOINT_URL_STS, or AWS_ENDPOINT_URL_CLOUDTRAIL for lookup-events, or
AWS_ENDPOINT_URL) gets a plain TCP connect, tried REFUSED_TRIES times a short while apart
(a server that is just restarting gets that long); refused each time, or a host name
that does not resolve, is one line naming the endpoint.

Decision: exit 1 (ServerFailed), not 2: the URL is well formed (checks.check_endpoint
took it) and nothing is wrong with the input as written; the server is not there, like a
server fault. Nothing was called and nothing written.

Only endpoints the user named are probed. AWS's own endpoints are left to botocore: they
do not refuse connections, and a probe would cost every sweep a round trip. A connect that
times out is left to botocore too, under --connect-timeout.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from trailsweep.base.errors import ServerFailed
from trailsweep.settings.config import SweepSettings

REFUSED_TRIES = 3
PAUSES = (0.25, 0.5)  # between the tries: 0.75 s in all
_REFUSALS = (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH)


def configured_endpoint(
    cfg: SweepSettings, env: Mapping[str, str] = os.environ, service: str = "STS"
) -> tuple[str, str] | None:
    """(url, where it came from) of the endpoint the first call will use (a sweep's is
    STS GetCallerIdentity, lookup-events' CLOUDTRAIL LookupEvents), if the user named one;
    None when botocore picks AWS's own."""
    if cfg.endpoint_url:
        return cfg.endpoint_url, "--endpoint-url"
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    for name in (f"AWS_ENDPOINT_URL_{service}", "AWS_ENDPOINT_URL"):
        if env.get(name):
            return env[name], name
    return None


def check_reachable(
    cfg: SweepSettings,
    env: Mapping[str, str] = os.environ,
    *,
    service: str = "STS",
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Raise ServerFailed (exit 1) if the configured endpoint refuses every try."""
    found = configured_endpoint(cfg, env, service)
    if found is None:
        return
    url, source = found
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    started = monotonic()
    problem = ""
    for attempt in range(REFUSED_TRIES):
        if attempt:
            sleep(PAUSES[min(attempt - 1, len(PAUSES) - 1)])
        problem = _connect(host, port, cfg.timeouts.connect)
        if not problem:
            return
    took = monotonic() - started
    raise ServerFailed(
        f"cannot connect to {url} ({source}): {problem}, {REFUSED_TRIES} tries in "
        f"{took:.1f} s; start the server there, or fix {source}"
    )


def _connect(host: str, port: int, timeout: float) -> str:
    """'' if a TCP connection opens (or fails in a way botocore should judge), else why."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except socket.gaierror:
        return f"host name {host} does not resolve"
    except OSError as err:
        if err.errno in _REFUSALS:
            return os.strerror(err.errno).lower()
        return ""
    return ""
