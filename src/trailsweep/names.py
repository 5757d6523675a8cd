"""What an account id and a region name look like, for names from the user and from servers.

Both end up in file paths (a checkpoint's pairs), in the NDJSON lines and in the URLs and
credential scopes of signed calls, so anything else is refused before it is used: from the
user as bad input (exit 2), from a server as a bad answer (`errors.BadAnswer`).
`\\A...\\Z` and `[0-9]`, not `^...$` and `\\d`: `$` lets a trailing newline through and
`\\d` matches digits of every script.
"""

from __future__ import annotations

import re

ACCOUNT = re.compile(r"\A[0-9]{12}\Z")
# us-east-1, eu-central-2, us-gov-west-1, cn-north-1, us-isob-east-1, ap-southeast-5 ...
REGION = re.compile(r"\A[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}\Z")


def is_account(value: object) -> bool:
    """A 12-digit AWS account id (a string)."""
    return isinstance(value, str) and ACCOUNT.match(value) is not None


def is_region(value: object) -> bool:
    """A region name shaped like AWS's (a string)."""
    return isinstance(value, str) and REGION.match(value) is not None


def shown(value: object, limit: int = 40) -> str:
    """`value` quoted for an error message: repr escapes control characters, and it is cut
    to `limit` characters (a hostile server may answer megabytes)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
