"""`merge_files`: shard outputs (files, .gz, .zst, directories of parts, stdin) merged
into one newest-first NDJSON stream, what `trailsweep merge` runs.

The merge itself is output/merge_parts.py (the order, the rounds, the duplicate window),
its inputs output/merge_input.py (what a name may be, how a directory of parts is read),
its lines output/merge_lines.py (the key, the order check), its output
output/merge_output.py (all or nothing into -o; stdout as it goes).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from trailsweep.output.merge_input import STDIN, check_inputs, open_blocks, parts_in
from trailsweep.output.merge_lines import InputLines
from trailsweep.output.merge_output import FileTarget, StreamTarget, check_output
from trailsweep.output.merge_parts import Merge
from trailsweep.output.merge_s3 import S3Merge, S3Target, check_s3_specs, output_location
from trailsweep.settings.checks import check_path
from trailsweep.settings.s3_url import S3Location, is_s3_url

__all__ = ["MergeReport", "merge_files"]

# The temp file beside -o is named `.NAME.` + 8 random characters + `.tmp`.
_TEMP_ROOM = 14


@dataclass(frozen=True, slots=True)
class MergeReport:
    """What a merge wrote: its `lines` and `size` (NDJSON bytes, before any compression),
    the `output` file (None: the stream it was given, stdout by default), and the temp
    parts found in input directories and not read (`skipped`: parts being written, or
    left by a killed run that the next run of its command finishes)::

        report: trailsweep.MergeReport = trailsweep.merge_files(
            ["shard0.ndjson.gz", "shard1/"], "all.ndjson"
        )
        print(report.lines, report.size, report.skipped)
    """

    lines: int
    size: int
    output: str | None
    skipped: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines, "size": self.size, "output": self.output,
            "skipped": list(self.skipped),
        }  # fmt: skip


def merge_files(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
) -> MergeReport:
    """Merge sorted shard outputs into one stream, newest first, ties by account, region,
    then each input's own order (docs/design.md invariant 3): for the outputs of the
    shards of one sweep, byte for byte what the unsharded sweep writes::

        report = trailsweep.merge_files(
            ["shard-0.ndjson", "shard-1.ndjson.gz", "spool-2/"], "all.ndjson"
        )

    `inputs`: NDJSON files (`.gz` and `.zst` decompressed), directories of parts as
    `sweep --output-dir` writes them, `s3://bucket/prefix` for the parts of
    `--output-dir s3://bucket/prefix` (output/merge_s3.py), and `-` for `stdin` (default:
    this process's). `output`: a file, or `s3://bucket/key` put as one object, written
    whole or not at all (`.gz`/`.zst` compress); an existing one is replaced only with
    `overwrite`. Without it the lines go to `stdout` (default:
    this process's) as they are merged.

    Memory stays bounded whatever the inputs' sizes: one block of lines per input.
    Raises InputError (exit 2) for an input that is missing, unreadable, truncated, not
    NDJSON events, out of order, or holding an EventId of one pair twice, naming the file
    and line; the -o file is then not written (what went to stdout stays there).
    OutputFailed (exit 1) when the output cannot be written."""
    specs = [os.fspath(x) for x in inputs]
    check_inputs(specs)
    check_s3_specs(specs)
    files = [Path(s) for s in specs if s != STDIN and not is_s3_url(s)]
    skipped = tuple(f"{path}/{name}" for path in files if path.is_dir() for name in _temps(path))
    place = _output_place(output, files, overwrite=overwrite)  # refusals before any call
    reading = stdin if stdin is not None else sys.stdin.buffer
    with ExitStack() as stack:
        s3 = None
        if isinstance(place, S3Location) or any(is_s3_url(s) for s in specs):
            s3 = S3Merge()
            stack.callback(s3.close)
            for spec in specs:
                if is_s3_url(spec):
                    s3.check_input(spec)
            if isinstance(place, S3Location):
                s3.check_output(place, overwrite=overwrite)
        merge = Merge([InputLines(open_blocks(s, stdin=reading, s3=s3)) for s in specs])
        target: FileTarget | StreamTarget | S3Target
        if isinstance(place, Path):
            target = FileTarget(place, overwrite=overwrite)
        elif place is not None and s3 is not None:  # an S3Location: s3 was opened for it
            target = S3Target(s3, place, overwrite=overwrite)
        else:
            target = StreamTarget(stdout if stdout is not None else sys.stdout.buffer)
        size = _write(merge, target)
    shown = None if place is None else str(place)
    return MergeReport(lines=merge.lines, size=size, output=shown, skipped=skipped)


def _output_place(
    output: str | os.PathLike[str] | None, files: list[Path], *, overwrite: bool
) -> Path | S3Location | None:
    """Where -o writes, its refusals that need no network made: None for the stream."""
    if output is None:
        return None
    text = os.fspath(output)
    if is_s3_url(text):
        return output_location(text)
    path = check_path(text, "-o", reserve=_TEMP_ROOM)
    check_output(path, files, overwrite=overwrite)
    return path


def _write(merge: Merge, target: FileTarget | StreamTarget | S3Target) -> int:
    """The merge written to `target` and committed, or discarded; the bytes written."""
    size = 0
    try:
        for chunk in merge:
            target.write(chunk)
            size += len(chunk)
        target.commit()
    except BaseException:
        target.discard()
        raise
    return size


def _temps(directory: Path) -> list[str]:
    try:
        return parts_in(directory)[1]
    except OSError:
        return []  # open_blocks says why, when the merge reads it
