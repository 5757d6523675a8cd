"""The --output file of an export: what it may be, and a writer that knows which bytes
reached it whole.

What --output may name (checked before any call; exit 2 and nothing written otherwise):
a regular file, or a name where one can be created. A resume cuts the file back to the
checkpoint's offset and seeks there, so anything that cannot be cut or sought is refused
with the alternative (stdout): a FIFO, a character device (/dev/full, /dev/null, a tty),
a socket, and a file descriptor spelled as a path (/dev/stdout, /dev/fd/N,
/proc/self/fd/N), which would also put the checkpoint in /dev or /proc.

What a write failure does (disk full ENOSPC, `ulimit -f` EFBIG, EIO, quota): the export
stops with one line and exit 1, like a pair that failed during the run; it is not exit 2,
which promises that nothing was called or written. The writer writes each chunk of lines
with os.write in a loop and counts a chunk as written only once all of it is; a failed
chunk is cut off again (best effort), so the file ends with a whole line, and the
checkpoint records only bytes that were fully written and fsynced. Running the same
command again, once there is room, resumes byte-identically.

The writer keeps a running sha256 of every byte counted in `committed` (the checkpoint
stores it); `scan_prefix` reads a resumed output's first bytes back once, to check them
against the checkpoint and to go on with that hash. The cost (benchmarks/resume_check.py):
about 1 us of CPU per 1.5 KB event while writing (sha256 at 1.5 GB/s on a quiet core),
and a resume's read of 1 GB took 4.5 s on 2 cores shared with ~16 busy processes (the
read alone 0.3 s). A resume happens once per run of a long export: the strongest check
(every byte) is worth those seconds; a hash of the last line only would let any byte
before it change unseen.

A new output is created with exactly `mode` (0600 unless --file-mode says otherwise),
whatever the umask: it holds full CloudTrail records. An existing file keeps its mode:
whoever made it so (group-readable for a log shipper, say) meant it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from trailsweep.base.errors import InputError, OutputFailed
from trailsweep.output.safe_files import open_created

if TYPE_CHECKING:
    from hashlib import _Hash

# A descriptor spelled as a path. (Other names under /dev, such as /dev/shm/x.ndjson, are
# fine when they are regular files; devices are caught by the S_ISREG check below.)
_DESCRIPTOR = re.compile(r"^/dev/(std(in|out|err)$|fd/)|^/proc/")


def check_target(output: Path) -> None:
    """Refuse (InputError, exit 2) an --output that an export cannot write and resume."""
    spelled = os.path.normpath(output.absolute())
    if _DESCRIPTOR.match(spelled) or _DESCRIPTOR.match(os.path.realpath(output)):
        raise InputError(
            f"--output: {output} names a file descriptor, not a file an export can resume; "
            "leave out --output to write NDJSON to stdout (and redirect it)"
        )
    try:
        info = output.stat()
    except FileNotFoundError:
        return
    except OSError as err:
        raise InputError(f"--output: cannot use {output}: {err.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        mode = info.st_mode
        kind = (
            "a FIFO" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a regular file"
        )  # fmt: skip
        raise InputError(
            f"--output: {output} is {kind}; an export needs a file it can cut back and "
            "resume; leave out --output to write NDJSON to stdout (and pipe it)"
        )


def describe(err: OSError) -> str:
    """`No space left on device (ENOSPC)`."""
    name = errno.errorcode.get(err.errno or 0, "")
    text = err.strerror or str(err)
    return f"{text} ({name})" if name else text


class OutputFile:
    """An open --output file, the number of bytes in it known to be whole, and the sha256
    of those bytes."""

    __slots__ = ("committed", "digest", "fd", "path")

    def __init__(
        self,
        path: Path,
        *,
        resume_at: int | None,
        digest: _Hash | None = None,
        mode: int = 0o600,
    ) -> None:
        """Open `path` for writing: from scratch, or cut back to `resume_at` bytes, whose
        sha256 so far is `digest` (scan_prefix's). A file it creates gets `mode`."""
        self.path = path
        # O_NONBLOCK: should a FIFO appear between the check and here, the open fails
        # (ENXIO) rather than waiting for a reader; it changes nothing for a regular file.
        flags = os.O_WRONLY | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            fd = open_created(path, flags, mode)
        except OSError as err:
            raise OutputFailed(f"cannot open {path}: {describe(err)}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InputError(f"--output: {path} is not a regular file; write to stdout")
            os.set_blocking(fd, True)
            offset = resume_at or 0
            os.ftruncate(fd, offset)
            os.lseek(fd, offset, os.SEEK_SET)
        except OSError as err:
            os.close(fd)
            raise OutputFailed(f"cannot prepare {path}: {describe(err)}") from None
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self.committed = offset
        self.digest = digest if digest is not None and offset else hashlib.sha256()

    def write(self, data: bytes) -> None:
        """Write all of `data` or raise OutputFailed with the file cut back to whole lines."""
        try:
            done = os.write(self.fd, data)
            if done != len(data):  # short write: the rest, until it fails or is done
                view = memoryview(data)[done:]
                while view:
                    view = view[os.write(self.fd, view) :]
        except OSError as err:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, self.committed)
                os.lseek(self.fd, self.committed, os.SEEK_SET)
            raise OutputFailed(
                f"cannot write {self.path}: {describe(err)}; the checkpoint keeps the lines "
                "written whole: make room and run the same command again to resume"
            ) from None
        self.committed += len(data)
        self.digest.update(data)

    def sync(self) -> None:
        """fsync: the bytes counted in `committed` are on disk once this returns."""
        try:
            os.fsync(self.fd)
        except OSError as err:
            raise OutputFailed(
                f"cannot flush {self.path} to disk: {describe(err)}; the last checkpoint "
                "is kept: run the same command again to resume from it"
            ) from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


# Every line start, and where an NDJSON line (record.ndjson_line) names its pair: its
# first two keys. One pass counts lines and pairs; a line that is not an event line
# gives ('', ''). After a newline, so that the search runs on a literal (a `^` with re.M
# is 8x slower).
_LINE = re.compile(rb'\n(?:\{"account":"([^"\\\n]*)","region":"([^"\\\n]*)")?')
_CHUNK = 8 << 20
_LONG = 1 << 16  # an unfinished line this long: its start is all that counts
_INSIDE = b"\0"  # the tail while inside a long line already counted: no line starts here


@dataclass(slots=True)
class Prefix:
    """What an output's first bytes hold: their sha256, their lines, the lines per pair
    (account, region; ('', '') for lines that name none) and their last byte."""

    digest: _Hash = field(default_factory=hashlib.sha256)
    lines: int = 0
    per_pair: Counter[tuple[str, str]] = field(default_factory=Counter)
    last_byte: bytes = b""


def scan_prefix(path: Path, offset: int, *, chunk: int = _CHUNK, long_line: int = _LONG) -> Prefix:
    """Read the first `offset` bytes of `path` (which must have them) once, `chunk` bytes at
    a time: sha256, lines, and how many lines of each pair (a line that has not named its
    pair in its first `long_line` bytes names none). Raises OSError as reading does."""
    found = Prefix()
    starts: Counter[tuple[bytes, bytes]] = Counter()
    tail = b"\n"  # the first line has no newline before it: as if it had
    left = offset
    # sha256 lets go of the GIL and the regex does not: hashing in a thread of its own,
    # one chunk behind at most, the two take the time of the longer one, not the sum.
    hashed: Future[None] | None = None
    with path.open("rb", buffering=0) as f, ThreadPoolExecutor(1, "sha256") as hasher:
        while left:
            data = f.read(min(chunk, left))
            if not data:
                raise OSError(errno.EIO, f"{path} ended before byte {offset}")
            left -= len(data)
            if hashed is not None:
                hashed.result()
            hashed = hasher.submit(found.digest.update, data)
            found.last_byte = data[-1:]
            buffer = tail + data
            cut = buffer.rfind(b"\n")  # the lines that start before the last newline are whole
            if cut < 0:  # still inside a long line
                continue
            starts.update(_LINE.findall(buffer, 0, cut))
            tail = buffer[cut:]
            if len(tail) > long_line:  # count it now, and do not carry it (nor copy it again)
                start = _LINE.match(tail)
                if start is not None:  # always: the tail starts with a newline
                    starts[start.group(1) or b"", start.group(2) or b""] += 1
                tail = _INSIDE
        if hashed is not None:
            hashed.result()
    for (account, region), n in starts.items():
        found.lines += n
        found.per_pair[account.decode(errors="replace"), region.decode(errors="replace")] += n
    return found
