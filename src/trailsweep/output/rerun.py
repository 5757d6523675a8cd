"""What running an export's command again does with the files already there.

A sweep pins its window when it starts, and relative times ("1d") pin a new one on each
run; so running a finished export's command again used to start a new export over the
old file, and the first export was gone. The rules now, checked under the export's lock
and before any call:

- Finished checkpoint, output there, same question: nothing is touched; one line says the
  export is complete and how to start afresh; exit 0 (exit 1 when pairs of it failed,
  as the run that wrote it exited: the export is no more complete than it was).
- Finished checkpoint, output there, another question: refused (exit 2), naming the
  differences; the old export is kept.
- Finished checkpoint, no output: nothing to lose; a new export starts.
- Unfinished checkpoint: resumed (a different question is refused, as before).
- Output there (not empty) and no checkpoint: not an export trailsweep can continue (a
  file of the user's, or an export with another --checkpoint): refused (exit 2).
- `--overwrite`: any checkpoint is ignored and a new export starts. Decision: the old
  output is cut only when the new export writes its first lines, and the new checkpoint
  (offset 0) is written before that (sink.run_export), so a run killed at any moment
  leaves either the old export whole beside its checkpoint or a checkpoint that resumes
  the new one; never a finished checkpoint beside a cut file. An --overwrite run that
  fails before its first event (credentials refused, say) leaves the old export as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from trailsweep.base.errors import InputError
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.output.checkpoint import Checkpoint

Decision = Literal["fresh", "resume", "complete"]


@dataclass(frozen=True, slots=True)
class Complete:
    """A finished export found again: the line to print and the exit code to give."""

    message: str
    exit_code: int


def decide(
    output: Path,
    checkpoint: Path,
    previous: Checkpoint | None,
    spec: dict[str, Any],
    *,
    overwrite: bool,
) -> Decision:
    """Fresh, resume or complete; InputError (exit 2) for what must not be replaced."""
    if overwrite:
        return "fresh"
    size = _size(output)
    if previous is not None and previous.finished:
        if size is None:
            return "fresh"  # the export's file is gone: nothing of it to keep
        changed = ckpt_mod.differences(previous.spec, spec)
        if changed:
            raise InputError(
                f"{output} holds a finished export of another question "
                f"({'; '.join(changed)}); it is kept: choose another --output, or add "
                "--overwrite to replace it"
            )
        return "complete"
    if previous is not None:
        return "resume"
    if size:
        raise InputError(
            f"--output {output} exists and has no checkpoint beside it ({checkpoint}), so "
            "it is not an export to continue; it is kept: choose another --output, give "
            "the --checkpoint it was written with, or add --overwrite to replace it"
        )
    return "fresh"


def complete(output: Path, checkpoint: Path, previous: Checkpoint) -> Complete:
    """The line (and exit code) for a finished export run again."""
    failed = sum(p.state == "failed" for p in previous.pairs)
    restart = "add --overwrite to replace it with a new run"
    if failed:
        return Complete(
            f"trailsweep: {output} is finished with {failed} failed pair(s) (see "
            f"`trailsweep status {output}`); nothing was done: {restart}\n",
            1,
        )
    return Complete(
        f"trailsweep: {output} is complete ({previous.written:,} events; checkpoint "
        f"{checkpoint}); nothing was done: {restart}\n",
        0,
    )


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None
