"""`export_parts`: the sweep into NDJSON parts of a directory that `sweep --output-dir` does.

The same steps as `export`: the question (output.checkpoint_spec.spec_of, stored in the
directory's checkpoint), the lock and the choice between a new sweep, a resume and a
finished sweep left alone (output.parts_export.prepare_parts, before any call), then the
run that closes, records and renames parts (output.parts_export.run_parts).

`trailsweep sweep --output-dir` goes through `prepare_parts` and `run_parts` here. What a
run into parts tells as it goes is `PartHooks`: `observe(events)` for every piece of a
chunk once it is in the open part, `on_part(info)` for every part once it is durable,
recorded and visible (`PartInfo`: name, number, lines, bytes, sha256, newest and oldest
EventTime). The writer itself (`PartWriter`, `PartSink`, `PartsLayout`) is named here for
the other runs that write parts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

from trailsweep.api.incremental import state_of
from trailsweep.api.stream import unwrapped
from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.base.errors import InputError
from trailsweep.engine.pair import SweepEvent
from trailsweep.engine.sweep import SweepReport
from trailsweep.output.checkpoint_spec import spec_of
from trailsweep.output.parts import PartInfo, PartsLayout, PartWriter
from trailsweep.output.parts_export import (
    CHECKPOINT_NAME,
    PartHooks,
    PartsExport,
    check_directory,
    run_parts,
)
from trailsweep.output.parts_export import prepare_parts as _prepare_parts
from trailsweep.output.parts_sink import PartSink
from trailsweep.output.s3_parts import prepare_s3_parts
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.s3_url import parts_place

__all__ = [
    "CHECKPOINT_NAME",
    "PartHooks",
    "PartInfo",
    "PartSink",
    "PartWriter",
    "PartsExport",
    "PartsLayout",
    "check_directory",
    "export_parts",
    "prepare_parts",
    "run_parts",
]


async def export_parts(
    settings: SweepSettings,
    directory: str | os.PathLike[str] | None = None,
    *,
    clock: Clock = SYSTEM_CLOCK,
    observe: Callable[[Sequence[SweepEvent]], None] | None = None,
    on_part: Callable[[PartInfo], None] | None = None,
) -> SweepReport:
    """Write the sweep into NDJSON parts of `directory` (default `settings.output_dir`),
    exactly once, and return the final report::

        settings = trailsweep.SweepSettings.build(
            accounts="org", regions="all", start_time="1d",
            output_dir="/var/spool/trailsweep", part_size="64MiB", compress="gz",
        )
        report = await trailsweep.export_parts(settings, on_part=lambda p: print(p.name))

    Each part (`trailsweep-<UTC time>-<number>.ndjson[.gz|.zst]`) appears by an atomic
    rename once it is whole; `on_part` hears of it then (a `PartInfo`), `observe` hears
    of every event once it is written into the open part. The checkpoint
    (`DIR/.trailsweep.checkpoint.json`) records each part as it closes: awaiting
    `export_parts` again with the same settings resumes, and a finished sweep is left as
    it is. `directory` may be `s3://bucket/prefix`: each part is then one object put once
    whole, the checkpoint an object beside them (output/s3_store.py). Refused before any
    call (InputError, CheckpointError): a directory that does not exist or cannot be
    written, a bucket that does not exist, a checkpoint of another unfinished sweep."""
    if directory is not None:
        place = parts_place(os.fspath(directory), state=None, follow=False)
        settings = dataclasses.replace(
            settings, output=None, output_dir=None, output_s3=None, **place
        )
    if settings.output_dir is None and settings.output_s3 is None:
        raise InputError("export_parts: no directory; pass one, or build settings with output_dir")
    if settings.output_s3 is not None and settings.state is not None:
        raise InputError("export_parts: state goes with a local directory, not s3://")
    if settings.follow:
        raise InputError("export_parts: follow is the CLI's `sweep --follow`; build without it")
    if settings.state is not None and (observe is not None or on_part is not None):
        raise InputError("export_parts: observe and on_part are not for an incremental run")
    job = prepare_parts(settings)
    with state_of(settings, job) as state:
        if job.complete is not None and job.resume is not None:
            job.lock.release()
            if state is None or not state.committed(job):  # finished: leave it be
                if state is not None:
                    state.commit_finished(job)
                done = job.resume
                return SweepReport(pairs=done.pairs, written=done.written, finished=0.0)
            job = prepare_parts(settings, overwrite=True)  # the next incremental run
        report = SweepReport()
        hooks = PartHooks(observe, on_part)
        if state is not None:
            state.attach(report, job)
            hooks = state.hooks()
        with unwrapped():
            await run_parts(job, report, clock=clock, hooks=hooks)
        if state is not None:
            state.commit(report, to_file=True)
        return report


def prepare_parts(settings: SweepSettings, *, overwrite: bool = False) -> PartsExport:
    """The sweep into `settings.output_dir`, checked and locked before any call: the
    question (stored in its checkpoint) and the choice between a new sweep, a resume and
    a finished sweep (`PartsExport.complete`); `overwrite`: a new sweep whatever the
    checkpoint says (parts already there stay). With `settings.output_s3` the parts and
    checkpoint are objects under that prefix (output/s3_store.py)."""
    if settings.output_s3 is not None:
        return prepare_s3_parts(settings, spec_of(settings), overwrite=overwrite)
    return _prepare_parts(settings, spec_of(settings), overwrite=overwrite)
