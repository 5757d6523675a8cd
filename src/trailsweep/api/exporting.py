"""`export`: the resumable, exactly-once file export that `trailsweep sweep --output` does.

The same three steps as the CLI, in the same order: the question the export answers
(output.checkpoint_spec.spec_of, stored in its checkpoint), the lock and the choice between a
fresh run, a resume and a finished export left alone (output.sink.prepare_export, before
any call), then the run that writes, fsyncs and checkpoints (output.sink.run_export).
Run it again after a crash, a cancel or a failure and it goes on where the file ends,
byte-identical to an uninterrupted run (docs/design.md invariant 5).

`trailsweep sweep` takes the same steps through the same names: `prepare` (the question
and the lock, shared with `export`), `run_export`, and for --resume the checkpoint read
back (`checkpoint_path`, `load_checkpoint`, `options_from_spec`); to stdout it writes
with `write_ndjson`, which writes to any binary stream.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from trailsweep.api.incremental import state_of
from trailsweep.api.stream import unwrapped
from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.base.errors import InputError
from trailsweep.engine.sweep import SweepReport
from trailsweep.output.checkpoint import Checkpoint
from trailsweep.output.checkpoint import default_path as checkpoint_path
from trailsweep.output.checkpoint import load as load_checkpoint
from trailsweep.output.checkpoint_spec import options_from_spec, spec_of
from trailsweep.output.safe_files import check_writable
from trailsweep.output.sink import Export, prepare_export, run_export, write_ndjson
from trailsweep.settings.checks import CHECKPOINT_RESERVE, OUTPUT_RESERVE, check_path
from trailsweep.settings.config import SweepSettings

__all__ = [
    "Checkpoint",
    "Export",
    "checkpoint_path",
    "export",
    "load_checkpoint",
    "options_from_spec",
    "prepare",
    "run_export",
    "write_ndjson",
]


async def export(
    settings: SweepSettings,
    path: str | os.PathLike[str],
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    interval: float = 2.0,
) -> SweepReport:
    """Write the sweep to `path` as NDJSON, exactly once, and return the final report::

        report = await trailsweep.export(settings, "events.ndjson")
        if report.exit_code:                      # 1: some pairs failed (see report.failed)
            print(report.as_dict()["failures"])

    The checkpoint (default `events.ndjson.checkpoint.json`, or `checkpoint`) records
    every `interval` seconds how far the file is written; awaiting `export` again with
    the same settings resumes from it, and a finished export is left as it is (its report
    read back from the checkpoint). A lock keeps a second export off the same file.
    Refused before any call (InputError, CheckpointError): a path that cannot be written,
    a file that is not an export, a checkpoint of another question.

    With `state` in the settings it is an incremental run (README: "Incremental runs and
    following"): only events no earlier run with that state wrote, each run to a new
    `path`; StateError for a state of another question or a run to finish first."""
    output = check_path(os.fspath(path), "export path", reserve=OUTPUT_RESERVE)
    check_writable(output, "export path")
    ckpt = None
    if checkpoint is not None:
        ckpt = check_path(os.fspath(checkpoint), "export checkpoint", reserve=CHECKPOINT_RESERVE)
    cfg = dataclasses.replace(settings, output=output)
    if cfg.follow:
        raise InputError("export: follow is the CLI's `sweep --follow`; build without it")
    job = prepare(cfg, ckpt)
    with state_of(cfg, job) as state:
        if job.complete is not None and job.resume is not None:  # finished: leave it be
            job.lock.release()
            if state is not None:
                state.commit_finished(job)
            done = job.resume
            return SweepReport(pairs=done.pairs, written=done.written, finished=0.0)
        report = SweepReport()
        if state is not None:  # an incremental run (`state`): pending before any call
            state.attach(report, job)
        with unwrapped():
            await run_export(job, report, clock=clock, interval=interval)
        if state is not None:
            state.commit(report, to_file=True)
        return report


def prepare(
    settings: SweepSettings,
    checkpoint: Path | None = None,
    *,
    summary: Path | None = None,
    overwrite: bool = False,
) -> Export:
    """The export to `settings.output`, checked and locked before any call: the question
    it answers (stored in its checkpoint) and the choice between a fresh run, a resume and
    a finished export (`Export.complete`). `summary`: a file the run writes beside it,
    refused if it collides with the output or the checkpoint; `overwrite`: start over."""
    return prepare_export(
        settings, spec_of(settings), checkpoint, summary=summary, overwrite=overwrite
    )
