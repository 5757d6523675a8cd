"""`--output-dir s3://bucket/prefix`: where parts go on S3, read from its URL.

The URL is `s3://BUCKET` or `s3://BUCKET/PREFIX`; a part `trailsweep-...ndjson` is the
object `PREFIX/trailsweep-...ndjson` (or `trailsweep-...ndjson` at the bucket's top).
A trailing `/` on the prefix is dropped, so `s3://b/p` and `s3://b/p/` are one place.

The bucket is checked against S3's rules for names (3 to 63 characters: lower-case
letters, digits, `.` and `-`, starting and ending with a letter or a digit); the prefix
must leave room for a part's name within S3's 1,024 bytes of a key. Whether the bucket
exists is the export's check (output/s3_store.py), made before any LookupEvents call.
Building this touches no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from trailsweep.base.errors import InputError
from trailsweep.settings.part_options import check_output_dir

SCHEME = "s3://"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
_KEY_MAX = 1024  # bytes of an S3 key
# The longest name trailsweep puts under a prefix (`.trailsweep.checkpoint.next.json` is
# 32, a part's name 46 with an 18-digit number), with room to spare.
_NAME_ROOM = 64


def is_s3_url(value: str) -> bool:
    """Whether an --output-dir names a place on S3 rather than a directory."""
    return value[:5].lower() == SCHEME


@dataclass(frozen=True, slots=True)
class S3Location:
    """A bucket and a prefix in it ("" for the bucket's top), no trailing `/`."""

    bucket: str
    prefix: str = ""

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{SCHEME}{self.bucket}"

    def key(self, name: str) -> str:
        """The object key of `name` under the prefix."""
        return f"{self.prefix}/{name}" if self.prefix else name

    @property
    def listing(self) -> str:
        """What a listing of the objects under the prefix asks for (`Prefix`)."""
        return f"{self.prefix}/" if self.prefix else ""

    def __str__(self) -> str:
        return self.url


def parse_s3_url(value: str, option: str = "--output-dir") -> S3Location:
    """`s3://bucket/prefix` as an S3Location; InputError (exit 2) naming what is wrong."""
    fix = "write s3://BUCKET/PREFIX, such as s3://my-audit-bucket/trailsweep/shard-0"
    if not is_s3_url(value):
        raise InputError(f"{option}: {value[:60]!r} is not an s3:// URL; {fix}")
    rest = value[len(SCHEME) :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise InputError(f"{option}: {value[:60]!r} names no bucket; {fix}")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise InputError(
            f"{option}: {bucket[:70]!r} is not an S3 bucket name (3 to 63 characters: "
            "lower-case letters, digits, '.' and '-', starting and ending with a letter or "
            f"digit); {fix}"
        )
    prefix = prefix.rstrip("/")
    if "\0" in prefix or "//" in prefix:
        raise InputError(
            f"{option}: the prefix {prefix[:60]!r} holds an empty path segment or a NUL "
            f"character; {fix}"
        )
    try:
        size = len(prefix.encode())
    except UnicodeEncodeError:
        raise InputError(f"{option}: the prefix is not valid UTF-8 text; {fix}") from None
    if size + 1 + _NAME_ROOM > _KEY_MAX:
        raise InputError(
            f"{option}: the prefix is {size} bytes, too long for the names trailsweep puts "
            f"under it (S3 keys take {_KEY_MAX} bytes; at most {_KEY_MAX - 1 - _NAME_ROOM})"
        )
    return S3Location(bucket, prefix)


def parts_place(value: str, *, state: str | None, follow: bool) -> dict[str, Any]:
    """SweepSettings' `output_dir` for a directory, `output_s3` for an s3:// URL.
    Decision: --state and --follow keep to a directory for now (the state file is local,
    and a follower's parts need the directory's lock): refused with s3:// rather than
    half supported."""
    if not is_s3_url(value):
        return {"output_dir": check_output_dir(value)}
    for flag, given in (("--state", state), ("--follow", follow)):
        if given:
            raise InputError(
                f"{flag} writes parts to a local directory only; give --output-dir DIR, or "
                f"drop {flag} to sweep into {value[:60]}"
            )
    return {"output_s3": parse_s3_url(value)}
