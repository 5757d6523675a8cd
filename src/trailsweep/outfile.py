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
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from pathlib import Path

from trailsweep.errors import InputError, OutputFailed

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


def describe(err: OSError) -> str:
    """`No space left on device (ENOSPC)`."""
    name = errno.errorcode.get(err.errno or 0, "")
    text = err.strerror or str(err)
    return f"{text} ({name})" if name else text


class OutputFile:
    """An open --output file and the number of bytes in it known to be whole."""

    __slots__ = ("committed", "fd", "path")

    def __init__(self, path: Path, *, resume_at: int | None) -> None:
        """Open `path` for writing: from scratch, or cut back to `resume_at` bytes."""
        self.path = path
        # O_NONBLOCK: should a FIFO appear between the check and here, the open fails
        # (ENXIO) rather than waiting for a reader; it changes nothing for a regular file.
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            fd = os.open(path, flags, 0o644)
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
