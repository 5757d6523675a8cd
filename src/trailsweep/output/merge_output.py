"""Where `trailsweep merge` writes: `-o FILE`, made whole before it is visible, or stdout.

`-o FILE`:
- refused before anything is read (InputError, exit 2): a file descriptor spelled as a
  path (/dev/stdout: leave out -o instead), something there that is not a regular file,
  a regular file there without `overwrite` (trailsweep never replaces a user's file
  unasked), a directory that does not exist or cannot take new files, a name ending in
  .bz2 or .xz (not written: .gz and .zst are);
- written under a temp name beside it (safe_files.temp_beside: O_EXCL, mode 0600, the
  name `remove_stale_temps` knows), fsynced, then put in place: without `overwrite` by a
  hard link, which fails rather than replace a file that appeared meanwhile; with it, by
  a rename over the old file, which takes the old file's mode (whoever made it
  group-readable meant it). A merge that fails (a check, a read error, Ctrl-C) removes
  its temp file: nothing is left, and an old file is as it was. Only SIGKILL can leave
  the hidden temp file behind.
- `.gz` or `.zst` at the end of the name compresses the stream (gzip level 6, zstandard
  level 3: their libraries' defaults for speed).

stdout cannot be taken back: lines go out as the merge makes them, and a check that fails
midway stops the stream after the last whole chunk before the line it names (exit 2, one
line on stderr). A reader of stdout must take a non-zero exit as "discard what came";
`-o` is the way to have all or nothing.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import stat
from pathlib import Path
from typing import IO, Any, BinaryIO

import zstandard

from trailsweep.base.errors import InputError, OutputFailed
from trailsweep.output.outfile import describe
from trailsweep.output.parts import sync_directory
from trailsweep.output.safe_files import check_writable, same_file, temp_beside

_DESCRIPTOR_DIRS = ("/dev/", "/proc/")
_NOT_WRITTEN = (".bz2", ".xz")


def check_output(path: Path, inputs: list[Path], *, overwrite: bool) -> None:
    """Refuse an `-o` the merge must not write (module docstring); InputError, exit 2."""
    real = os.path.realpath(path)
    if real.startswith(_DESCRIPTOR_DIRS) or str(path.absolute()).startswith(_DESCRIPTOR_DIRS):
        raise InputError(f"-o: {path} is not a file to write whole; leave out -o for stdout")
    if path.name.endswith(_NOT_WRITTEN):
        raise InputError(f"-o: {path}: only .gz and .zst are written compressed; rename it")
    try:
        info = path.lstat() if path.is_symlink() else path.stat()
    except FileNotFoundError:
        info = None
    except OSError as err:
        raise InputError(f"-o: cannot use {path}: {describe(err)}") from None
    if info is not None and not stat.S_ISREG(info.st_mode) and not stat.S_ISLNK(info.st_mode):
        raise InputError(f"-o: {path} is not a regular file; name a file, or leave out -o")
    for given in inputs:
        if same_file(path, given):
            raise InputError(f"-o: {path} is also an input; write the merge to another file")
    if info is not None and not overwrite:
        raise InputError(
            f"-o: {path} exists; it is kept: choose another -o, or add --overwrite to replace it"
        )
    check_writable(path, "-o")


class FileTarget:
    """The `-o` file being written under its temp name: `write`, then `commit` (in place)
    or `discard` (removed)."""

    __slots__ = ("_file", "_stream", "overwrite", "path", "temp")

    def __init__(self, path: Path, *, overwrite: bool) -> None:
        self.path, self.overwrite = path, overwrite
        try:
            fd, self.temp = temp_beside(path)
        except OSError as err:
            raise OutputFailed(f"cannot create a file beside {path}: {describe(err)}") from None
        self._file: IO[bytes] = os.fdopen(fd, "wb")
        self._stream: Any = self._file
        if path.name.endswith(".gz"):
            self._stream = gzip.GzipFile(
                filename="", mode="wb", fileobj=self._file, mtime=0, compresslevel=6
            )
        elif path.name.endswith(".zst"):
            self._stream = zstandard.ZstdCompressor().stream_writer(self._file, closefd=False)

    def write(self, data: bytes) -> None:
        try:
            self._stream.write(data)
        except OSError as err:
            raise self._failed(err) from None

    def commit(self) -> None:
        """End the stream, fsync, and put the file in place (module docstring)."""
        try:
            if self._stream is not self._file:
                self._stream.close()
            self._file.flush()
            if self.overwrite:
                with contextlib.suppress(FileNotFoundError):
                    os.fchmod(self._file.fileno(), stat.S_IMODE(self.path.stat().st_mode))
            os.fsync(self._file.fileno())
            self._file.close()
            self._place()
            sync_directory(self.path.parent)
        except OSError as err:
            raise self._failed(err) from None

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self.temp.unlink()

    def _place(self) -> None:
        if self.overwrite:
            self.temp.replace(self.path)
            return
        try:
            os.link(self.temp, self.path)
        except FileExistsError:
            raise InputError(
                f"-o: {self.path} appeared while merging; it is kept: choose another -o, "
                "or add --overwrite to replace it"
            ) from None
        except OSError as err:  # a file system without hard links: rename, if still free
            if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            if os.path.lexists(self.path):
                raise InputError(f"-o: {self.path} appeared while merging; it is kept") from None
            self.temp.replace(self.path)
            return
        self.temp.unlink()

    def _failed(self, err: OSError) -> OutputFailed:
        self.discard()
        return OutputFailed(f"cannot write {self.path}: {describe(err)}; nothing was kept")


class StreamTarget:
    """stdout (or any binary stream): written as the merge goes, nothing to commit."""

    __slots__ = ("stream",)

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        try:
            self.stream.write(data)
        except BrokenPipeError:
            raise  # the reader went away: the caller stops quietly
        except OSError as err:
            raise OutputFailed(f"cannot write stdout: {describe(err)}") from None

    def commit(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as err:
            raise OutputFailed(f"cannot write stdout: {describe(err)}") from None

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.flush()
