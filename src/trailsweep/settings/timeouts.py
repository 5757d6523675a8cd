"""How long one call may take: the two settings and their checks (`aws.timeouts` applies them).

Without these limits a server that accepted the connection and never answered held a pair for
378 to 514 s: botocore's 60 s read timeout (aiohttp's 60 s total on the lean path) times 8
attempts, plus backoff. With them:

- `connect` (default 10 s): to open the TCP/TLS connection. A healthy AWS endpoint
  connects in well under a second; 10 s rides out a lost SYN or two.
- `read` (default 30 s): to wait for the answer, and for each further chunk of its body.
  LookupEvents answers in about a second even for a full page; 30 s is ample for a slow
  network and still short enough that a stuck call is noticed. On the lean path the whole
  call is also bounded by ``connect + 2 x read``, so a body dripped a byte at a time ends.
- `MAX_TIMEOUTS` (3) timeouts of the same page in a row fail the pair ("timed out"), with
  the setting named; the rest of the sweep goes on. A server that never answers costs a
  pair at most about ``3 x (connect + read)`` plus backoff (about 2 minutes at worst with
  the defaults, 91 s typically) instead of 8 attempts; a timeout that is followed by an
  answer just counts as a retry, as before.

Both are settable: ``--connect-timeout`` / ``--read-timeout`` or ``connect_timeout`` /
``read_timeout`` in a config file.

Control-plane calls (STS GetCallerIdentity and AssumeRole, also when botocore renews a
session; Organizations ListAccounts; Account ListRegions; EC2 DescribeRegions) use the same
two settings, not settings of their own: a user who says the network is slow means it for
every call, and one pair of flags is easier to get right. Each call gets botocore's
standard retries, `MAX_TIMEOUTS` tries in all (`control_config`), and the whole call
(retries, backoff and a body dripped a byte at a time included) is bounded by
``MAX_TIMEOUTS x (connect + read)`` (`control_step`, 120 s with the defaults): botocore's
read timeout is per chunk and multiplies with its retries, so only an outer bound caps it.
A call that runs past it, or whose tries all time out, is a `TimedOut` (exit 1) naming the
call and both settings. Before, botocore's defaults (60 s a read, 5 retries) applied, and
each pair of a member whose AssumeRole never answered waited on it in turn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from trailsweep.base.errors import InputError

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
MAX_TIMEOUTS = 3
_MAX_SECONDS = 3600.0

Phase = Literal["connect", "read"]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds one call may spend connecting, and waiting for its answer."""

    connect: float = CONNECT_TIMEOUT
    read: float = READ_TIMEOUT

    @classmethod
    def of(cls, connect: float | None, read: float | None) -> Timeouts:
        """Checked settings (None: the default); a bad value is an InputError (exit 2)."""
        return cls(
            _check("--connect-timeout", CONNECT_TIMEOUT if connect is None else connect),
            _check("--read-timeout", READ_TIMEOUT if read is None else read),
        )

    def seconds(self, phase: Phase) -> float:
        return self.connect if phase == "connect" else self.read

    def control_bound(self) -> float:
        """Seconds one control-plane call may take in all, its retries included."""
        return MAX_TIMEOUTS * (self.connect + self.read)


def _check(flag: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{flag}: {value!r} is not a number of seconds")
    if not (math.isfinite(value) and 0 < value <= _MAX_SECONDS):
        raise InputError(f"{flag}: {value} must be above 0 and at most {_MAX_SECONDS:.0f} s")
    return float(value)
