"""What `--output-dir`, `--part-size`, `--part-age` and `--compress` take.

- `--part-size`: uncompressed NDJSON bytes a part holds before it is closed: a whole
  number of bytes (`1048576`) or one with a unit, decimal (`10MB`, `500kB`, `1GB`) or
  binary (`64MiB`, `512KiB`, `1GiB`); upper or lower case, a space allowed before the
  unit. 1 KiB to 1 TiB, default 64 MiB. Decision: 1 KiB at least, because the
  checkpoint lists every part a sweep closes and a part per line would make a sweep of a
  million events write a million files and checkpoints.
- `--part-age`: a part is closed this long after its first line, whether lines keep
  coming or not: seconds (`90`) or an age as `--start-time` writes it (`30s`, `5m`,
  `1h`, `1d`). 1 second to 7 days; default none (parts close on size and at the end).
- `--compress`: `gz` (the standard gzip module) or `zst` (the zstandard package); the
  part's name ends `.ndjson.gz` or `.ndjson.zst`. Default: none (`.ndjson`).

Each check raises an InputError (exit 2) naming the option and what it takes.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from trailsweep.base.errors import InputError
from trailsweep.settings.checks import NAME_MAX, PATH_MAX
from trailsweep.settings.limits import shown_number

DEFAULT_PART_SIZE = 64 << 20  # 64 MiB: a few minutes of a busy organization, one S3 object
MIN_PART_SIZE = 1 << 10
MAX_PART_SIZE = 1 << 40
MIN_PART_AGE = 1.0
MAX_PART_AGE = 7 * 86400.0
COMPRESSIONS = ("gz", "zst")

_SIZE = re.compile(r"([0-9]{1,16})\s*([kmgt]i?b?|b)?", re.ASCII | re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_AGE = re.compile(r"([0-9]{1,9}(?:\.[0-9]+)?)\s*([smhd]?)", re.ASCII | re.IGNORECASE)
_AGE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_part_size(value: str | int, option: str = "--part-size") -> int:
    """`--part-size` in bytes; InputError unless 1 KiB..1 TiB (`option`: what the message
    calls it, such as a config file's key)."""
    fix = (
        "give bytes (1048576) or a size with a unit such as 10MB or 64MiB, from 1KiB to "
        "1TiB (default 64MiB)"
    )
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InputError(f"{option}: {value!r} is not a size; {fix}")
    if isinstance(value, int):
        size = value
    else:
        found = _SIZE.fullmatch(value.strip())
        if found is None:
            raise InputError(f"{option}: cannot read {value[:40]!r} as a size; {fix}")
        unit = (found.group(2) or "").lower()
        scale = 1 << (10 * "kmgt".index(unit[0]) + 10) if "i" in unit else _SIZE_UNITS[unit[:1]]
        size = int(found.group(1)) * scale
    if not MIN_PART_SIZE <= size <= MAX_PART_SIZE:
        raise InputError(f"{option}: {_shown(value)} is out of range; {fix}")
    return size


def parse_part_age(value: str | float, option: str = "--part-age") -> float:
    """`--part-age` in seconds; InputError unless 1 s..7 days (`option` as above)."""
    fix = "give seconds (90) or an age such as 30s, 5m or 1h, from 1s to 7d"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(f"{option}: {value!r} is not a duration; {fix}")
    if isinstance(value, str):
        found = _AGE.fullmatch(value.strip())
        if found is None:
            raise InputError(f"{option}: cannot read {value[:40]!r} as a duration; {fix}")
        seconds = float(found.group(1)) * _AGE_UNITS[found.group(2).lower()]
    else:
        seconds = float(value)
    if not (math.isfinite(seconds) and MIN_PART_AGE <= seconds <= MAX_PART_AGE):
        raise InputError(f"{option}: {_shown(value)} is out of range; {fix}")
    return seconds


def check_compress(value: str) -> str:
    """`--compress`: gz or zst."""
    if value not in COMPRESSIONS:
        raise InputError(
            f"--compress: {value[:40]!r} is not a compression trailsweep writes; give gz "
            "or zst, or leave it out for plain .ndjson parts"
        )
    return value


# The longest name trailsweep makes in the directory (a part's temp name, the checkpoint's
# temp file), with room to spare: `..trailsweep.checkpoint.json.XXXXXXXX.tmp` is 41.
NAME_ROOM = 64


def check_output_dir(value: str) -> Path:
    """`--output-dir` as a path the system can use (whether it is a writable directory is
    the export's check, made before any call: output.parts_export.check_directory)."""
    if not value:
        raise InputError("--output-dir: empty path; name a directory")
    if "\0" in value:
        raise InputError("--output-dir: the path holds a NUL character; name one without")
    try:
        raw = os.fsencode(value)
    except UnicodeEncodeError:
        raise InputError(
            "--output-dir: the path holds characters this system cannot encode; rename it"
        ) from None
    if len(raw) + NAME_ROOM >= PATH_MAX or max(map(len, raw.split(b"/"))) > NAME_MAX:
        raise InputError(
            f"--output-dir: the path is too long for the files trailsweep writes in it "
            f"(at most {PATH_MAX - NAME_ROOM - 1} bytes, {NAME_MAX} a name)"
        )
    return Path(value)


def _shown(value: object) -> str:
    """A value for a message: text as typed (it matched a short pattern), a number cut."""
    return value.strip() if isinstance(value, str) else shown_number(value)
