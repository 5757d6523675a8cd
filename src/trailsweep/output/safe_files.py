"""Files trailsweep creates beside an export (checkpoint, its temp file, the lock), made so
that a file planted at the same name cannot redirect our writes.

- A temp file is always a new file: a random name, `O_CREAT | O_EXCL` (which never
  follows a symlink), written, fsynced, then renamed over the target; `rename` replaces
  a symlink at the target itself, never the file it points to.
- The lock file is opened with `O_NOFOLLOW` and must be a plain file with one link before
  we write our pid into it: a symlink or hard link planted there is refused (exit 2), the
  file it points to untouched.
- The lock is keyed on the output file (its resolved path), not on how the output or the
  checkpoint were spelled: two runs that reach one file through a symlink, or name two
  different --checkpoint files, still meet at one lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

import orjson

from trailsweep.base.errors import CheckpointError, InputError


def resolved(path: Path) -> Path:
    """`path` with every symlink followed (also for a file that does not exist yet)."""
    return Path(os.path.realpath(path))


def same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file: one resolved path, or one inode (hard links)."""
    if resolved(a) == resolved(b):
        return True
    try:
        return a.samefile(b)
    except OSError:
        return False


_TEMP_SUFFIX = ".tmp"


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def temp_beside(path: Path) -> tuple[int, Path]:
    """A new temp file (O_EXCL, random name, mode 0600) in `path`'s directory, named as
    `remove_stale_temps(path)` knows them: its open descriptor and its path. Raises OSError."""
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=_TEMP_SUFFIX, dir=path.parent)
    return fd, Path(tmp)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: fresh temp file (O_EXCL, random name), fsync, rename,
    fsync the directory. On any failure the temp file is removed and `path` is as it was."""
    fd, tmp = temp_beside(path)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_stale_temps(path: Path) -> None:
    """Remove the temp files `atomic_write(path, ...)` left behind: a run killed between a
    temp file and its rename, or a directory that turned read-only in between (the temp
    could not be removed then), leaves one. Call it holding the export's lock, so that no
    live run is writing them. Only what `atomic_write` makes is touched: its prefix,
    mkstemp's 8 random characters and its suffix, a regular file with one link, ours; a
    symlink or anything else at such a name is left alone."""
    made = re.compile(re.escape(_temp_prefix(path)) + "[a-z0-9_]{8}" + re.escape(_TEMP_SUFFIX))
    try:
        candidates = [p for p in path.parent.iterdir() if made.fullmatch(p.name)]
    except OSError:
        return
    for temp in candidates:
        with contextlib.suppress(OSError):
            info = temp.lstat()
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and info.st_uid == os.geteuid():
                temp.unlink()


def open_created(path: Path, flags: int, mode: int) -> int:
    """Open `path` (through any symlinks) with `flags`, which ask for write access; create
    it with exactly `mode` (fchmod: the umask neither narrows nor widens it) if it does not
    exist. A file that exists keeps its mode. O_EXCL tells the two cases apart."""
    target = resolved(path)
    for _ in range(3):
        try:
            fd = os.open(target, flags | os.O_CREAT | os.O_EXCL, mode & 0o777)
        except FileExistsError:
            pass
        else:
            try:
                os.fchmod(fd, mode)
            except BaseException:
                os.close(fd)
                raise
            return fd
        try:
            return os.open(target, flags)
        except FileNotFoundError:  # removed between the two opens: create it after all
            continue
    return os.open(target, flags)  # still coming and going: its error, as it is


def write_created(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` (truncated), created with exactly `mode` (open_created)."""
    fd = open_created(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def lock_path(output: Path) -> Path:
    """The lock of an export: beside the output's real file, whatever --checkpoint says."""
    real = resolved(output)
    return real.with_name(real.name + ".checkpoint.json.lock")


class Lock:
    """An exclusive flock on `lock_path(output)`, held for the whole run. `option` names
    the file in messages (`--output`; `--state` for a state file, api.incremental)."""

    def __init__(self, output: Path, *, shown: str | None = None, option: str = "--output") -> None:
        """`shown`: what messages call what is locked (default: `output`); `option`: the
        option that names it (--output-dir keeps its lock inside the directory)."""
        self.output = output
        self.shown = str(output) if shown is None else shown
        self.option = option
        self.path = lock_path(output)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise CheckpointError (exit 2). Creates the file if need be."""
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        while True:
            try:
                fd = os.open(self.path, flags, 0o600)
            except OSError as err:
                if err.errno == errno.ELOOP:
                    raise CheckpointError(
                        f"{self.path} is a symbolic link, not a lock trailsweep made; it is "
                        "left alone: remove it and run again"
                    ) from None
                article = "an" if self.option == "--output" else "a"
                raise InputError(
                    f"cannot create the lock file {self.path}: {err.strerror}; "
                    f"choose {article} {self.option} in a writable directory"
                ) from None
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                os.close(fd)
                raise CheckpointError(
                    f"{self.path} is not a lock trailsweep made (a "
                    f"{'hard link' if stat.S_ISREG(info.st_mode) else 'special file'}); it is "
                    "left alone: remove it and run again"
                )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise CheckpointError(
                    f"{self.shown} is being written by another trailsweep ({holder}); wait "
                    f"for it to finish or stop it, or choose another {self.option}"
                ) from None
            # The holder before us may have removed the file after we opened it (release
            # unlinks it): then we hold a lock nobody else can see; take the new file.
            try:
                current = self.path.lstat()
            except FileNotFoundError:
                current = None
            if current is not None and (current.st_dev, current.st_ino) == (
                info.st_dev,
                info.st_ino,
            ):
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and let go. Safe: we hold the flock, and a run that opened
        the file before the unlink finds it gone and tries again (see `acquire`)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def check_writable(path: Path, option: str = "--output") -> None:
    """Fail now, before any call, if a file the run will write could not be written: a
    directory, a missing or read-only directory, a read-only file. Settings do not probe
    the file system (SweepSettings.build); the export, or the command, does this."""
    try:
        if path.is_dir():
            raise InputError(f"{option}: {path} is a directory; name a file")
        parent = path.parent if str(path.parent) else Path()
        if not parent.is_dir():
            raise InputError(f"{option}: directory {parent} does not exist; create it first")
        if path.exists() and not os.access(path, os.W_OK):
            raise InputError(f"{option}: {path} is not writable; choose another file")
        if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"{option}: cannot create files in {parent}; choose another directory")
    except OSError as err:  # a name too long, a loop of symlinks, no permission to look
        raise InputError(f"{option}: cannot use {path}: {err.strerror}") from None


def write_sealed(path: Path, body: dict[str, Any]) -> None:
    """`body` as `{"sha256": ..., "body": ...}` (the sha256 of the body's bytes), written
    atomically (`atomic_write`): what checkpoints and --state files are."""
    atomic_write(path, sealed_bytes(body))


def sealed_bytes(body: dict[str, Any]) -> bytes:
    """What `write_sealed` writes of `body`."""
    data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(data).hexdigest().encode()
    return b'{"sha256":"' + digest + b'","body":' + data + b"}\n"


def unsealed(raw: bytes) -> dict[str, Any] | None:
    """The body of what `write_sealed` wrote; None when torn, edited or not one."""
    try:
        doc = orjson.loads(raw)
        start = raw.index(b'"body":') + len(b'"body":')
        data = raw[start : raw.rstrip().rindex(b"}")]
        body = doc["body"]
        if hashlib.sha256(data).hexdigest() != doc["sha256"] or not isinstance(body, dict):
            return None
    except (orjson.JSONDecodeError, ValueError, KeyError, TypeError):
        return None
    return body
