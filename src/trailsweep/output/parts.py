"""NDJSON parts in a directory, each visible only once it is whole: what log shippers read.

A part is written under a hidden temp name and renamed to its final name when it is
closed; a shipper (Vector's or Fluent Bit's file source, an S3 uploader) watching the
directory never sees a part grow or a half-written one.

- Names: `trailsweep-20261207T194512Z-000001.ndjson[.gz|.zst]`: the UTC second the part
  was opened (its first line), then its number in the directory. Decision: nothing else
  is in the name. Numbers go on across runs into one directory (the next after the
  highest there or recorded: `scan`), so a name is never used twice; the time in a name
  is never earlier than the one before it (a wall clock stepped back cannot make a later
  part sort first), so sorting the names sorts the parts in the order they were written.
  The question a sweep asked is in its checkpoint, not in the names.
- Temp names: `.trailsweep-20261207T194512Z-000001.tmp`. Decision: a leading dot (hidden
  from shell-style globs), `.tmp` at the end, and no `.ndjson` inside: a glob such as
  Vector's `*.ndjson*` matches names that start with a dot too, and must not match a
  part being written.
- A part is closed when it holds `size` bytes of NDJSON (uncompressed), when it is `age`
  seconds old (from its first line; `close_when_old` runs on the injected clock, so a
  part closes while no line comes), or when its owner says so (the end of a run).
  Only whole lines go into a part: a line that would take it past `size` starts the next
  one, and a line longer than `size` is a part of its own.
- Closing, in this order: the compressed stream ended, the file flushed and fsynced;
  `commit(info)` (the owner records the part durably: a sweep's checkpoint, with every
  pair's cursor after its last line); the rename to the final name; an fsync of the
  directory; `on_part(info)`. The commit comes before the rename so that a run killed
  between the two leaves a part its owner has recorded: the next run renames it
  (`roll_forward`) rather than writing its lines again. A temp part nobody recorded is
  removed by the next run (`remove_temps`), and its lines are written again.

Files that are not named as ours are never touched.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import anyio
import zstandard

from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.base.errors import OutputFailed
from trailsweep.output.outfile import describe
from trailsweep.output.safe_files import Lock
from trailsweep.settings.part_options import DEFAULT_PART_SIZE

PART_NAME = re.compile(r"trailsweep-([0-9]{8}T[0-9]{6}Z)-([0-9]{6,18})\.ndjson(\.gz|\.zst)?")
TEMP_NAME = re.compile(r"\.trailsweep-([0-9]{8}T[0-9]{6}Z)-([0-9]{6,18})\.tmp")
_SUFFIX = {None: ".ndjson", "gz": ".ndjson.gz", "zst": ".ndjson.zst"}


@dataclass(frozen=True, slots=True)
class PartsLayout:
    """Where parts go and when they close: `size` bytes of NDJSON (uncompressed), `age`
    seconds after a part's first line (None: never on age), `compress` gz, zst or None;
    each part file is created with `mode`."""

    directory: Path
    size: int = DEFAULT_PART_SIZE
    age: float | None = None
    compress: str | None = None
    mode: int = 0o600


@dataclass(frozen=True, slots=True)
class PartInfo:
    """A closed part: its final name in the directory, its number, its lines, its NDJSON
    bytes (`size`, uncompressed) and their sha256, the bytes of its file (`stored`), and
    the EventTimes (epoch seconds) of its newest and oldest events. `export_parts` hands
    each one to `on_part` once the part is recorded and visible::

        def shipped(part: trailsweep.PartInfo) -> None:
            print(part.name, part.lines, part.newest, part.oldest)

        report = await trailsweep.export_parts(settings, on_part=shipped)
    """

    name: str
    number: int
    lines: int
    size: int
    stored: int
    sha256: str
    newest: int | None
    oldest: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "number": self.number, "lines": self.lines, "size": self.size,
            "stored": self.stored, "sha256": self.sha256, "newest": self.newest,
            "oldest": self.oldest,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, item: dict[str, Any]) -> PartInfo:
        """Raises KeyError, TypeError or ValueError for what is not a part's record."""
        name = str(item["name"])
        found = PART_NAME.fullmatch(name)
        if found is None or int(found.group(2)) != int(item["number"]):
            raise ValueError(name)
        newest, oldest = item["newest"], item["oldest"]
        return cls(
            name=name, number=int(item["number"]), lines=int(item["lines"]),
            size=int(item["size"]), stored=int(item["stored"]), sha256=str(item["sha256"]),
            newest=None if newest is None else int(newest),
            oldest=None if oldest is None else int(oldest),
        )  # fmt: skip


# The lock of a directory of parts is keyed on this name: safe_files.lock_path makes it
# DIR/.trailsweep.checkpoint.json.lock, beside a sweep's checkpoint. A sweep into the
# directory (parts_export) and a follower (follow_parts) take the same one.
_LOCK_KEY = ".trailsweep"


def directory_lock(directory: Path) -> Lock:
    """The lock (not yet taken) that keeps a second run off `directory`."""
    return Lock(directory / _LOCK_KEY, shown=f"--output-dir {directory}", option="--output-dir")


def stamp_of(wall: float) -> str:
    """`20261207T194512Z`: the UTC second of `wall` (epoch seconds) as names carry it."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(wall))


def part_name(stamp: str, number: int, compress: str | None) -> str:
    return f"trailsweep-{stamp}-{number:06d}{_SUFFIX[compress]}"


def temp_name(final: str) -> str:
    """The hidden name a part is written under before it is renamed to `final`."""
    found = PART_NAME.fullmatch(final)
    assert found is not None, final
    return f".trailsweep-{found.group(1)}-{found.group(2)}.tmp"


def scan(directory: Path) -> tuple[int, str]:
    """The highest part number in `directory` (0: none) and the latest time in a part's
    name ("": none), over parts and temp parts alike. Raises OSError as listing does."""
    highest, latest = 0, ""
    for entry in os.scandir(directory):
        found = PART_NAME.fullmatch(entry.name) or TEMP_NAME.fullmatch(entry.name)
        if found is not None:
            highest = max(highest, int(found.group(2)))
            latest = max(latest, found.group(1))
    return highest, latest


def remove_temps(directory: Path) -> int:
    """Remove the temp parts left in `directory` by a run that was killed (after
    `roll_forward` renamed those a checkpoint recorded); how many. Call it holding the
    directory's lock. Only a regular file of ours with one link at a temp part's name is
    removed; anything else there is left alone."""
    removed = 0
    for entry in os.scandir(directory):
        if TEMP_NAME.fullmatch(entry.name) is None:
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and info.st_uid == os.geteuid():
                Path(entry.path).unlink()
                removed += 1
    return removed


def roll_forward(directory: Path, info: PartInfo) -> bool:
    """Finish the close of a part its owner recorded: rename its temp part, if it is still
    there, to its final name (a run was killed between the two). Whether it renamed."""
    temp, final = directory / temp_name(info.name), directory / info.name
    if os.path.lexists(final) or not temp.is_file():
        return False
    temp.rename(final)
    sync_directory(directory)
    return True


def sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PartStore(Protocol):
    """Where a closed part goes: `place(temp, info, commit)` makes the part whose whole,
    fsynced file is `temp` visible as `info.name`, calling `commit(info)` (the owner
    records it) at the point of its order that keeps exactly once; it raises what the
    commit raises, or OutputFailed. `DirectoryStore` (the directory the part was written
    in) commits, then renames; output/s3_store.py `S3PartStore` records the part as
    coming, puts it as one object, then commits."""

    def place(self, temp: Path, info: PartInfo, commit: Callable[[PartInfo], None]) -> None: ...


@dataclass(frozen=True, slots=True)
class DirectoryStore:
    """Parts in `directory`: the commit, then the rename into view and an fsync of the
    directory (module docstring: a run killed between the two leaves a recorded part
    under its temp name, which the next run renames)."""

    directory: Path

    def place(self, temp: Path, info: PartInfo, commit: Callable[[PartInfo], None]) -> None:
        directory = self.directory
        commit(info)
        try:
            if os.path.lexists(directory / info.name):
                raise FileExistsError(f"{info.name} is already in {directory}")
            temp.rename(directory / info.name)
            sync_directory(directory)
        except OSError as err:
            raise OutputFailed(
                f"cannot rename the part {info.name} into place in {directory}: "
                f"{describe(err)}; it is recorded: run the same command again to finish it"
            ) from None


class _OpenPart:
    """A part being written: its temp file, the stream into it, and what it holds."""

    __slots__ = (
        "committing", "digest", "file", "lines", "name", "newest", "number", "oldest",
        "opened", "size", "stream",
    )  # fmt: skip

    def __init__(self, name: str, number: int, file: IO[bytes], opened: float) -> None:
        self.name, self.number, self.file, self.opened = name, number, file, opened
        self.stream: Any = file  # what lines are written to: the file or a compressor
        self.digest = hashlib.sha256()
        self.lines = self.size = 0
        self.newest: int | None = None
        self.oldest: int | None = None
        self.committing = False  # handed to `commit`: its temp may be recorded


class PartWriter:
    """Writes whole NDJSON lines into parts of `layout.directory` (see the module's
    docstring for when a part closes and how). `commit(info)` records a closed part
    durably before it is visible (`store.place`, by default a rename in the directory);
    `on_part(info)` is told once it is visible. Parts are numbered from `number` on; the
    time in their names is never before `floor`."""

    __slots__ = (
        "_part", "_wake", "broken", "clock", "commit", "floor", "layout", "number", "on_part",
        "store",
    )  # fmt: skip

    def __init__(
        self,
        layout: PartsLayout,
        *,
        commit: Callable[[PartInfo], None],
        on_part: Callable[[PartInfo], None] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        number: int = 1,
        floor: str = "",
        store: PartStore | None = None,
    ) -> None:
        self.layout, self.commit, self.on_part, self.clock = layout, commit, on_part, clock
        self.store = store or DirectoryStore(layout.directory)
        self.number, self.floor = number, floor
        self._part: _OpenPart | None = None
        self._wake: anyio.Event | None = None
        # A write, close or commit failed: what the open part holds cannot be vouched for,
        # and its owner must not record anything more (the last record stands).
        self.broken = False

    @property
    def used(self) -> int:
        """NDJSON bytes in the open part (0: none open)."""
        return 0 if self._part is None else self._part.size

    @property
    def opened(self) -> float | None:
        """When (on the clock's monotonic time) the open part got its first line."""
        return None if self._part is None else self._part.opened

    @property
    def open_name(self) -> str | None:
        """The final name the open part will have (None: none open)."""
        return None if self._part is None else self._part.name

    def write(self, data: bytes, lines: int, newest: int | None, oldest: int | None) -> None:
        """Append `lines` whole lines (`data`, each ending with a newline) to the open part,
        opening one if none is; `newest`/`oldest`: their EventTimes. The caller keeps
        within `layout.size` (PartSink does); a write that fails raises OutputFailed."""
        part = self._part or self._open()
        try:
            part.stream.write(data)
        except OSError as err:
            raise self._failed(part, err) from None
        part.digest.update(data)
        part.lines += lines
        part.size += len(data)
        if newest is not None:
            part.newest = newest if part.newest is None else max(part.newest, newest)
        if oldest is not None:
            part.oldest = oldest if part.oldest is None else min(part.oldest, oldest)

    def close_part(self) -> PartInfo | None:
        """Close the open part (module docstring: fsync, commit, rename, fsync of the
        directory, on_part); its PartInfo, or None when no part is open."""
        part = self._part
        if part is None:
            return None
        directory = self.layout.directory
        try:
            if part.stream is not part.file:
                part.stream.close()  # ends the gzip member or the zstd frame, not the file
            part.file.flush()
            os.fsync(part.file.fileno())
            stored = os.fstat(part.file.fileno()).st_size
            part.file.close()
        except OSError as err:
            raise self._failed(part, err) from None
        info = PartInfo(
            name=part.name, number=part.number, lines=part.lines, size=part.size,
            stored=stored, sha256=part.digest.hexdigest(), newest=part.newest,
            oldest=part.oldest,
        )  # fmt: skip
        part.committing = True
        self._part = None
        try:
            # From the commit on the part is the owner's: a rerun finishes placing it.
            self.store.place(directory / temp_name(part.name), info, self.commit)
        except BaseException:
            self.broken = True
            raise
        if self.on_part is not None:
            self.on_part(info)
        return info

    def discard(self) -> None:
        """Drop the open part (its lines were never recorded): close and remove its temp
        file. A part already handed to `commit` is left for the next run to roll forward
        or remove, as its owner's record says."""
        part, self._part = self._part, None
        if part is None or part.committing:
            return
        with contextlib.suppress(OSError):
            part.file.close()
        with contextlib.suppress(OSError):
            (self.layout.directory / temp_name(part.name)).unlink()

    async def close_when_old(self) -> None:
        """Close each part `layout.age` seconds (on the clock) after its first line, lines
        or no lines meanwhile; runs until cancelled. Without an age it only waits."""
        age = self.layout.age
        while True:
            part = self._part
            if part is None or age is None:
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            left = part.opened + age - self.clock.monotonic()
            if left > 0:
                await self.clock.sleep(left)
            if self._part is part:
                self.close_part()

    def _open(self) -> _OpenPart:
        layout = self.layout
        stamp = max(stamp_of(self.clock.wall()), self.floor)
        name = part_name(stamp, self.number, layout.compress)
        temp = layout.directory / temp_name(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(temp, flags, layout.mode & 0o777)
            os.fchmod(fd, layout.mode)
        except OSError as err:
            raise OutputFailed(
                f"cannot create a part in {layout.directory}: {describe(err)}; the checkpoint "
                "keeps the parts closed whole: run the same command again to resume"
            ) from None
        part = _OpenPart(name, self.number, os.fdopen(fd, "wb"), self.clock.monotonic())
        if layout.compress == "gz":
            part.stream = gzip.GzipFile(filename="", mode="wb", fileobj=part.file, mtime=0)
        elif layout.compress == "zst":
            part.stream = zstandard.ZstdCompressor().stream_writer(part.file, closefd=False)
        self._part, self.number, self.floor = part, self.number + 1, stamp
        if self._wake is not None:
            self._wake.set()
        return part

    def _failed(self, part: _OpenPart, err: OSError) -> OutputFailed:
        """The part cannot be trusted: dropped (the owner's record keeps what was closed)."""
        self.broken = True
        self.discard()
        return OutputFailed(
            f"cannot write the part {part.name} in {self.layout.directory}: {describe(err)}; "
            "the checkpoint keeps the parts closed whole: make room and run the same "
            "command again to resume"
        )
