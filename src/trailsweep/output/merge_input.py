"""What `trailsweep merge` reads: each input named on its command line, opened as an
iterator of blocks of NDJSON bytes (decompressed), each block tagged with the file it
came from so that a check can name the file and line.

An input is one of:

- `-`: stdin, plain NDJSON (at most once: there is one stdin);
- a file: plain NDJSON, or gzip (`.gz`) or zstandard (`.zst`) by its name; several gzip
  members or zstandard frames one after another are read as one stream;
- `s3://bucket/prefix`: the parts `sweep --output-dir s3://bucket/prefix` wrote, read
  as a directory of parts is (merge_s3.py);
- a directory of parts as `sweep --output-dir` writes them (output/parts.py): the files
  named as parts (`parts.PART_NAME`), in name order, each decompressed as its suffix
  says; their concatenation is the directory's stream. Temp parts (`parts.TEMP_NAME`,
  a part being written, or one a killed run left that the next run of its command
  renames or removes) are not read, and neither is anything else in the directory (its
  checkpoint, its lock, files of the user's): the rule of output/parts.py, whose visible
  parts are exactly the recorded ones.

`open_blocks` is the one place a name becomes bytes: an s3:// URL is its own branch
there. A compressed stream that ends early (a truncated
.gz or .zst) is an error, never a short stream: a merge of a cut-off copy would
otherwise look complete.
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

import zstandard

from trailsweep.base.errors import InputError
from trailsweep.output.outfile import describe
from trailsweep.output.parts import PART_NAME, TEMP_NAME
from trailsweep.settings.s3_url import is_s3_url

# Bytes read at a time: large enough that a syscall, a decompressor call and a round of
# the merge cost little per line (about 700 lines of 1.5 KB), small enough that eight
# inputs hold a few MiB. Compressed inputs are read in smaller pieces so that what one
# piece expands to stays about this size (NDJSON of CloudTrail compresses about 10x).
BLOCK = 1 << 20
_COMPRESSED_BLOCK = 1 << 17
STDIN = "-"


class PartsReader(Protocol):
    """What reads the parts under an s3:// URL (merge_s3.S3Merge), decompressed."""

    def blocks(self, spec: str) -> Iterator[tuple[str, bytes]]: ...


def shown(spec: str) -> str:
    """How messages name an input: `stdin` for `-`, the path as given otherwise."""
    return "stdin" if spec == STDIN else spec


def check_inputs(specs: Sequence[str]) -> None:
    """Refuse (InputError, exit 2) before anything is read or written: no input, stdin
    twice, an input that does not exist or is neither a file nor a directory, one that
    cannot be read, or one file (or directory) named twice (every line of it would be
    merged twice)."""
    if not specs:
        raise InputError("merge: no input; name the shard outputs to merge (or - for stdin)")
    if sum(spec == STDIN for spec in specs) > 1:
        raise InputError("merge: - (stdin) is given more than once; there is one stdin")
    seen: dict[tuple[int, int], str] = {}
    for spec in specs:
        if spec == STDIN or is_s3_url(spec):
            continue  # s3:// inputs: merge_s3.check_s3_specs
        try:
            info = Path(spec).stat()
        except OSError as err:
            raise InputError(f"merge: cannot read {spec}: {describe(err)}") from None
        except ValueError:  # a NUL, or what this system cannot encode (UnicodeEncodeError)
            raise InputError(
                f"merge: {spec!r} is not a path this system can open; name a file"
            ) from None
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            raise InputError(f"merge: {spec} is neither a file nor a directory of parts")
        wanted = os.R_OK | (os.X_OK if stat.S_ISDIR(info.st_mode) else 0)
        if not os.access(spec, wanted):
            raise InputError(f"merge: cannot read {spec}: permission denied")
        before = seen.get((info.st_dev, info.st_ino))
        if before is not None:
            again = "named twice" if before == spec else f"the same as {before}"
            raise InputError(f"merge: {spec} is {again}; name each shard output once")
        seen[info.st_dev, info.st_ino] = spec


def parts_in(directory: Path) -> tuple[list[Path], list[str]]:
    """The parts of `directory` in name order (the order they were written), and the names
    of the temp parts there, which are not read. Raises OSError as listing does."""
    parts, temps = [], []
    for entry in os.scandir(directory):
        if PART_NAME.fullmatch(entry.name):
            parts.append(Path(entry.path))
        elif TEMP_NAME.fullmatch(entry.name):
            temps.append(entry.name)
    parts.sort(key=lambda p: p.name)
    return parts, sorted(temps)


def open_blocks(
    spec: str, *, stdin: BinaryIO, s3: PartsReader | None = None
) -> Iterator[tuple[str, bytes]]:
    """The bytes of input `spec` as (file, block) pairs, read lazily, one block at a time;
    `file` names the file a block came from (a part, for a directory or an s3:// prefix,
    read through `s3`). Raises InputError (exit 2) for what cannot be read or
    decompressed."""
    if spec == STDIN:
        yield from _plain_blocks(stdin, shown(spec))
        return
    if is_s3_url(spec):
        if s3 is None:
            raise InputError(f"merge: {spec} is on S3, and this merge has no S3 client")
        yield from s3.blocks(spec)
        return
    path = Path(spec)
    if path.is_dir():
        try:
            parts, _ = parts_in(path)
        except OSError as err:
            raise InputError(f"merge: cannot list {spec}: {describe(err)}") from None
        for part in parts:
            yield from _file_blocks(part)
        return
    yield from _file_blocks(path)


def _file_blocks(path: Path) -> Iterator[tuple[str, bytes]]:
    name = str(path)
    try:
        f = path.open("rb", buffering=0)
    except OSError as err:
        raise InputError(f"merge: cannot read {name}: {describe(err)}") from None
    with f:
        yield from decoded_blocks(f, name)


def decoded_blocks(f: BinaryIO, name: str) -> Iterator[tuple[str, bytes]]:
    """The NDJSON bytes of the file `f` read as its `name`'s suffix says (.gz, .zst, or
    plain), as (name, block) pairs."""
    if name.endswith(".gz"):
        yield from _gzip_blocks(f, name)
    elif name.endswith(".zst"):
        yield from _zstd_blocks(f, name)
    else:
        yield from _plain_blocks(f, name)


def _plain_blocks(f: BinaryIO, name: str) -> Iterator[tuple[str, bytes]]:
    while True:
        try:
            block = f.read(BLOCK)
        except OSError as err:
            raise InputError(f"merge: cannot read {name}: {describe(err)}") from None
        if not block:
            return
        yield name, block


def _gzip_blocks(f: BinaryIO, name: str) -> Iterator[tuple[str, bytes]]:
    stream = gzip.GzipFile(fileobj=f, mode="rb")
    while True:
        try:
            block = stream.read(BLOCK)
        except EOFError:
            raise _truncated(name, "gzip") from None
        except (gzip.BadGzipFile, zlib.error) as err:
            raise InputError(f"merge: {name} is not readable gzip ({err}); is it .gz?") from None
        except OSError as err:
            raise InputError(f"merge: cannot read {name}: {describe(err)}") from None
        if not block:
            return
        yield name, block


def _zstd_blocks(f: BinaryIO, name: str) -> Iterator[tuple[str, bytes]]:
    # Frame by frame with a decompressobj, not zstandard's stream_reader: the reader ends
    # quietly where a truncated file ends, and a cut-off part would pass for a whole one.
    maker = zstandard.ZstdDecompressor()
    frame = maker.decompressobj()
    inside = False  # part of a frame read, its end not yet
    while True:
        try:
            raw = f.read(_COMPRESSED_BLOCK)
        except OSError as err:
            raise InputError(f"merge: cannot read {name}: {describe(err)}") from None
        if not raw:
            break
        while raw:
            try:
                out = frame.decompress(raw)
            except zstandard.ZstdError as err:
                raise InputError(
                    f"merge: {name} is not readable zstandard ({err}); is it .zst?"
                ) from None
            if out:
                yield name, out
            if frame.eof:  # a frame ended: what follows is the next one
                raw, frame, inside = frame.unused_data, maker.decompressobj(), False
            else:
                raw, inside = b"", True
    if inside:
        raise _truncated(name, "zstandard")


def _truncated(name: str, kind: str) -> InputError:
    return InputError(
        f"merge: {name} ends in the middle of its {kind} stream (truncated); copy it again "
        "whole, or rerun the shard that wrote it"
    )
