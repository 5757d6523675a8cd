"""Checks on where to connect and where to write, made before any call or file is touched.

botocore takes a region or an endpoint URL it cannot use deep inside the first call and
fails there with a traceback (`InvalidRegionError`, `ValueError: Invalid endpoint`), or
uses it: a region `us-east-1/../x` would name a pair's files, an endpoint with
`user:password@` in it would send the password along. Paths with a NUL or longer than
the system allows fail in `open` the same way. Each check here raises an InputError
(exit 2) with one line naming the option and the fix, never echoing a secret.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import botocore.session
from botocore.exceptions import BotoCoreError, ProfileNotFound
from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

from trailsweep.base.errors import CredentialsError, InputError
from trailsweep.base.sanitize import clean
from trailsweep.settings.names import is_region, shown

# The limits of Linux (and of most file systems elsewhere): a path of at most PATH_MAX
# bytes, each name in it at most NAME_MAX.
PATH_MAX = 4096
NAME_MAX = 255
_REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")
_ENDPOINT_VAR = "AWS_ENDPOINT_URL"  # and AWS_ENDPOINT_URL_<SERVICE>


def check_region(value: str, source: str) -> str:
    """A region name as given by `source` (--region, AWS_REGION, a config file)."""
    if not value.strip():
        raise InputError(f"{source}: empty; give a region name such as us-east-1")
    if not is_region(value):
        raise InputError(
            f"{source}: {shown(value)} is not a region name; give one such as us-east-1"
        )
    return value


def check_endpoint(value: str, source: str) -> str:
    """An endpoint URL: http or https, a host, an optional port and path; no user:password
    (the message does not repeat the URL then), no query or fragment."""
    fix = "give a URL such as https://cloudtrail.us-east-1.amazonaws.com or http://127.0.0.1:4566"
    if not value.strip():
        raise InputError(f"{source}: empty; {fix}")
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        raise InputError(
            f"{source}: {shown(value)} holds spaces, control or non-ASCII characters "
            f"(write an international host name in its xn-- form); {fix}"
        )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InputError(f"{source}: {shown(value)} is not a valid URL (port?); {fix}") from None
    if "@" in parts.netloc:
        raise InputError(
            f"{source}: the URL holds a user name or password; remove it (AWS calls are "
            "signed with your AWS credentials, nothing else belongs in the URL)"
        )
    if parts.scheme not in ("http", "https"):
        raise InputError(f"{source}: {shown(value)} is not an http:// or https:// URL; {fix}")
    if not parts.hostname or port == 0:
        raise InputError(f"{source}: {shown(value)} names no host (or port 0); {fix}")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise InputError(f"{source}: {shown(value)} has a ?query or #fragment; drop it")
    if not (is_valid_endpoint_url(value) or is_valid_ipv6_endpoint_url(value)):
        raise InputError(f"{source}: {shown(value)} is not a URL botocore can use; {fix}")
    return value


def check_environment(env: Mapping[str, str] = os.environ) -> None:
    """AWS_REGION, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL(_<SERVICE>) as botocore will
    read them. An empty one counts as not set, as botocore and the AWS CLI take it (and
    `AWS_REGION= trailsweep ...` is how a shell unsets one for a command)."""
    for name in _REGION_VARS:
        if env.get(name):
            check_region(env[name], name)
    for name, value in env.items():
        if name.startswith(_ENDPOINT_VAR) and value:
            check_endpoint(value, name)


def check_profile(profile: str | None) -> None:
    """A named profile exists, found before progress starts or any call is made (else
    botocore's ProfileNotFound surfaces from the first session, after the display began)."""
    if profile is None:
        return
    try:
        botocore.session.Session(profile=profile).get_scoped_config()
    except ProfileNotFound:
        raise CredentialsError(
            f"--profile: no profile {shown(profile)} in the AWS config or credentials file; "
            "name one of them (aws configure list-profiles)"
        ) from None
    except BotoCoreError as err:  # an unreadable config file
        raise CredentialsError(f"--profile {shown(profile)}: {clean(str(err))}") from None


# Bytes trailsweep appends to the name of an --output (".checkpoint.json.lock", with room
# to spare) and of a --checkpoint (".lock", ".tmp") for the files it keeps beside them.
OUTPUT_RESERVE = 32
CHECKPOINT_RESERVE = 8


def check_path(value: str, option: str, *, reserve: int = 0) -> Path:
    """A path the system can open: not empty, no NUL, not longer than it allows, with room
    for `reserve` more bytes in its last name (the files kept beside it)."""
    if not value:
        raise InputError(f"{option}: empty path; name a file")
    if "\0" in value:
        raise InputError(f"{option}: the path holds a NUL character; name a file without one")
    try:
        raw = os.fsencode(value)
    except UnicodeEncodeError:
        raise InputError(
            f"{option}: the path holds characters this system cannot encode; rename it"
        ) from None
    if len(raw) >= PATH_MAX:
        raise InputError(
            f"{option}: the path is {len(raw)} bytes; the system allows {PATH_MAX - 1}"
        )
    if Path(value).name in ("", ".", ".."):  # "/", ".", "x/..": no file name to use
        raise InputError(f"{option}: {shown(value)} names a directory, not a file")
    names = raw.split(b"/")
    longest = max(len(part) for part in names)
    if longest > NAME_MAX:
        raise InputError(
            f"{option}: a name in the path is {longest} bytes; the system allows {NAME_MAX}"
        )
    if len(names[-1]) + reserve > NAME_MAX:
        raise InputError(
            f"{option}: the file name is {len(names[-1])} bytes; at most "
            f"{NAME_MAX - reserve} leaves room for the files trailsweep keeps beside it"
        )
    return Path(value)


CONFIG_BYTES = 1 << 20  # a config or --cli-input-json document: a few KB in practice


def read_text_file(value: str, option: str, limit: int = CONFIG_BYTES) -> str:
    """A small UTF-8 file the user named, read whole. Only a regular file of at most
    `limit` bytes: /dev/zero or /dev/full would be read until memory runs out, and a FIFO
    would block `open` forever (it is opened without blocking, then refused)."""
    path = check_path(value, option)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InputError(
            f"{option}: cannot read {path}: it does not exist; check the path"
        ) from None
    except OSError as err:
        raise InputError(f"{option}: cannot read {path}: {err.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        os.close(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{option}: {path} is not a regular file; name a file")
        raise InputError(f"{option}: {path} is {info.st_size} bytes; at most {limit}")
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(limit + 1)
        except OSError as err:
            raise InputError(f"{option}: cannot read {path}: {err.strerror}") from None
    if len(data) > limit:
        raise InputError(f"{option}: {path} is more than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{option}: {path} is not UTF-8 text") from None


# The AWS CLI's --output formats. `sweep --output json` is the AWS CLI habit, and would
# write an export to a file named `json`: refused, with how to say either thing.
AWS_CLI_FORMATS = ("json", "text", "table", "yaml", "yaml-stream")


def refuse_format_name(value: str) -> None:
    """Refuse (InputError, exit 2) an --output that is exactly an AWS CLI format name."""
    if value in AWS_CLI_FORMATS:
        raise InputError(
            f"--output {value}: sweep's --output names a file, not a format (sweep writes "
            f"NDJSON); write ./{value} for a file of that name, or use `trailsweep "
            f"lookup-events --output {value}` for the AWS CLI's formats"
        )


def parse_file_mode(text: str) -> int:
    """`--file-mode`: 3 octal digits (a leading 0 or 0o allowed), permission bits only, and
    the owner keeps read and write (a resume reads the output back and writes on)."""
    digits = text.strip().lower().removeprefix("0o")
    if len(digits) == 4 and digits.startswith("0"):
        digits = digits[1:]
    if not re.fullmatch(r"[0-7]{3}", digits):
        raise InputError(
            f"--file-mode: {text!r} is not a file mode; give 3 octal digits such as 600 "
            "(the default) or 640"
        )
    mode = int(digits, 8)
    if mode & 0o600 != 0o600:
        raise InputError(
            f"--file-mode: {text} leaves the owner without read or write, which a resume "
            "needs; give a mode with 6 or 7 first, such as 600 or 640"
        )
    return mode
