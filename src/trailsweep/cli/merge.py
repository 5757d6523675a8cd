"""`trailsweep merge PART... [-o OUT]`: shard outputs into one newest-first NDJSON stream
(api/merge.py `merge_files`)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from trailsweep.api.merge import merge_files
from trailsweep.cli.runner import silence_stdout


def merge_command(
    parts: Annotated[
        list[str],
        typer.Argument(
            metavar="PART",
            help="Shard outputs: NDJSON files (.gz and .zst are read compressed), "
            "directories of --output-dir parts, s3://BUCKET/PREFIX (the parts of "
            "--output-dir s3://...), or - for stdin (once).",
            show_default=False,
        ),
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o",
            help="Write the merge here, whole or not at all (.gz or .zst compresses): a "
            "file, or s3://BUCKET/KEY (put as one object). Default (or -): stdout.",
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Replace the --output file if it exists (refused otherwise)."
        ),
    ] = False,
) -> None:  # fmt: skip
    """Merge sorted shard outputs (of `sweep --shard I/N`, or any sweep outputs over
    distinct pairs) into one NDJSON stream, newest first, in the order one unsharded sweep
    writes: for the shards of one sweep, the same bytes. Memory stays flat whatever the
    sizes. Checks that each part is sorted and that no EventId of an account and region
    appears twice; otherwise one line naming the file and line, exit 2, and no --output
    file (on stdout, what was merged before that line has gone out: discard it)."""
    try:
        report = merge_files(parts, None if output == "-" else output, overwrite=overwrite)
    except BrokenPipeError:  # the reader went away (`| head`): stop as any Unix filter
        silence_stdout()
        return
    for name in report.skipped:
        sys.stderr.write(f"trailsweep: note: {name} is a part being written; not merged\n")
