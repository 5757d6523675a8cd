"""What an account id and a region name look like, for names from the user and from servers.

Both end up in file paths (a checkpoint's pairs), in the NDJSON lines and in the URLs and
credential scopes of signed calls, so anything else is refused before it is used: from the
user as bad input (exit 2), from a server as a bad answer (`errors.BadAnswer`).
`\\A...\\Z` and `[0-9]`, not `^...$` and `\\d`: `$` lets a trailing newline through and
`\\d` matches digits of every script.
"""

from __future__ import annotations

import re

from trailsweep.base.errors import InputError

ACCOUNT = re.compile(r"\A[0-9]{12}\Z")
# us-east-1, eu-central-2, us-gov-west-1, cn-north-1, us-isob-east-1, ap-southeast-5 ...
REGION = re.compile(r"\A[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}\Z")


# What AssumeRole and IAM accept (STS and IAM API references), checked before any call:
# AWS refuses anything else, and the emulator does too (emulator/services.py). `\w` is
# ASCII there, as in AWS's (Java) patterns.
SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)  # RoleSessionName
EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)
ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
ROLE_PATH = re.compile(r"/([\x21-\x7e]+/)?")  # "/" or "/division/team/", at most 512


def check_role(role: str | None, session_name: str | None, external_id: str | None) -> None:
    """The AssumeRole inputs as AWS would take them, or an InputError naming the option.
    `role` is a name or path/name (the ARN's role/path/name); None: not given. The
    external id is described, never quoted: some treat it as a shared secret."""
    if session_name is not None and not SESSION_NAME.fullmatch(session_name):
        raise InputError(
            f"--session-name: {shown(session_name)} is not a RoleSessionName AWS takes: "
            "2 to 64 letters, digits or +=,.@_-"
        )
    if external_id is not None and not EXTERNAL_ID.fullmatch(external_id):
        bad = next((i for i, c in enumerate(external_id, 1) if not EXTERNAL_ID.match(c * 2)), 0)
        size = f"{len(external_id)} character{'' if len(external_id) == 1 else 's'}"
        said = f"character {bad} is not allowed" if bad else size
        raise InputError(f"--external-id: {said}; AWS takes 2 to 1224 letters, digits or +=,.@:/_-")
    if role is None:
        return
    path, _, name = role.rpartition("/")
    if not ROLE_NAME.fullmatch(name):
        raise InputError(
            f"--role-name: {shown(name)} is not an IAM role name: 1 to 64 letters, digits "
            "or +=,.@_- (a path goes before it: division/team/Name)"
        )
    iam_path = f"/{path}/" if path else "/"
    if path.startswith("/") or len(iam_path) > 512 or not ROLE_PATH.fullmatch(iam_path):
        raise InputError(
            f"--role-name: {shown(path)} is not an IAM role path: up to 510 printable ASCII "
            "characters without spaces, written without its outer slashes (division/team/Name)"
        )


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
