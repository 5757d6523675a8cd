"""`sweep --output-dir DIR`: a sweep into parts (parts.py), exactly once and resumable.

A part's close is the commit point. Its lines are fsynced under a temp name, then the
checkpoint (`DIR/.trailsweep.checkpoint.json`, the format of checkpoint.py with the list
of the sweep's parts) records it with every pair's cursor after its last line, then the
part is renamed into view. Nothing else saves the checkpoint during the run, except once
when the matrix is resolved (nothing written yet) and at the end (after the last part):
the cursors it holds are always those of the lines in the parts it lists.

Run again after a kill at any moment: under the lock (`DIR/.trailsweep.checkpoint.json.
lock`), a part the checkpoint recorded but that was not renamed yet is renamed
(`parts.roll_forward`), other temp parts are removed (their lines were never recorded),
the recorded parts still in the directory must have their recorded size, and each pair
goes on from its cursor; the parts, in name order, then hold each event once, in the
order of an uninterrupted run (the bytes `--output FILE` writes). Parts a shipper has
taken away are not asked for. Decision: a recorded part missing from the directory is
taken as shipped, not refused: Vector's `remove_after_secs` and uploaders that move
files to S3 delete parts once read, and refusing the resume then would leave only
starting over, which writes every shipped event again.

Running the command again:
- no checkpoint in DIR: a new sweep; parts already there (ours or not) stay, and new
  parts are numbered after ours;
- an unfinished checkpoint: resumed; of another question: refused (exit 2, naming the
  differences), unless --overwrite;
- a finished checkpoint of the same question: left alone, one line, exit 0 (1 if pairs
  of it failed), as `--output` does;
- a finished checkpoint of another question, or --overwrite: a new sweep whose parts are
  numbered after the old ones, which stay. Decision: unlike `--output`, nothing is
  replaced in a directory, so a new question there needs no --overwrite.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio

from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.base.errors import (
    CheckpointError,
    CheckpointNotSaved,
    CheckpointQueryInvalid,
    InputError,
    OutputFailed,
)
from trailsweep.engine.pair import PairState
from trailsweep.engine.sweep import SweepReport, sweep_chunks
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.output.checkpoint import Checkpoint
from trailsweep.output.export_guard import check_consistent
from trailsweep.output.outfile import describe
from trailsweep.output.parts import (
    PartInfo,
    PartsLayout,
    PartStore,
    PartWriter,
    directory_lock,
    remove_temps,
    roll_forward,
    scan,
)
from trailsweep.output.parts_sink import Observe, PartSink
from trailsweep.output.rerun import Complete
from trailsweep.output.safe_files import Lock, remove_stale_temps
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.query import Query

CHECKPOINT_NAME = ".trailsweep.checkpoint.json"
_FORMAT = 1  # of the checkpoint's "parts" entry


@dataclass(frozen=True, slots=True)
class PartHooks:
    """What a program (or an incremental run, or a follower) hears of a run into parts:
    `observe(events)`, every piece of every chunk once it is in the open part (before
    that part can close); `on_part(info)`, every part once it is durable, recorded in the
    checkpoint and visible under its final name."""

    observe: Observe | None = None
    on_part: Callable[[PartInfo], None] | None = None
    # Before a closed part is recorded in the checkpoint (fsynced, not yet renamed): what
    # an incremental run saves of it (api/incremental.py), so nothing the checkpoint
    # holds is unknown to the state.
    commit: Callable[[PartInfo], None] | None = None


class Releasable(Protocol):
    """What keeps other runs off the parts until `release` (a directory's Lock)."""

    def release(self) -> None: ...


class Target(PartStore, Protocol):
    """Parts kept elsewhere than in a local directory (output/s3_store.py): where each
    closed part goes (`place`) and where the checkpoint is saved."""

    def save_checkpoint(self, ckpt: Checkpoint) -> None: ...


@dataclass(slots=True)
class PartsExport:
    """A sweep into a directory (or, with `target`, elsewhere: the layout's directory
    then holds only the part being written), checked and locked before any AWS call."""

    cfg: SweepSettings
    layout: PartsLayout
    checkpoint: Path | str
    spec: dict[str, Any]
    lock: Lock | Releasable
    resume: Checkpoint | None = None
    complete: Complete | None = None  # a finished sweep run again: print, exit, touch nothing
    done: list[PartInfo] = field(default_factory=list)  # this sweep's recorded parts
    number: int = 1  # of the next part
    floor: str = ""  # the latest time in a part's name in DIR
    target: Target | None = None  # None: parts and checkpoint in layout.directory

    @property
    def where(self) -> Path | str:
        """Where the parts are, as --output-dir named it."""
        return self.layout.directory if self.target is None else str(self.target)


def check_directory(directory: Path) -> None:
    """Refuse (InputError, exit 2) an --output-dir that is not a directory we can write."""
    try:
        if not directory.exists():
            raise InputError(f"--output-dir: {directory} does not exist; create it first")
        if not directory.is_dir():
            raise InputError(
                f"--output-dir: {directory} is not a directory; name a directory (or use "
                "--output FILE for one file)"
            )
        if not os.access(directory, os.W_OK | os.X_OK):
            raise InputError(
                f"--output-dir: cannot create files in {directory} (not writable); choose "
                "a writable directory"
            )
    except OSError as err:
        raise InputError(f"--output-dir: cannot use {directory}: {err.strerror}") from None


def prepare_parts(
    cfg: SweepSettings, spec: dict[str, Any], *, overwrite: bool = False
) -> PartsExport:
    """Lock the directory, decide between a new sweep, a resume and a finished sweep left
    alone (module docstring), finish what a killed run left; refused (exit 2, nothing
    touched, no lock left) when the checkpoint cannot be used."""
    assert cfg.output_dir is not None
    directory = cfg.output_dir
    check_directory(directory)
    layout = PartsLayout(directory, cfg.part_size, cfg.part_age, cfg.compress, cfg.file_mode)
    path = directory / CHECKPOINT_NAME
    lock = directory_lock(directory)
    lock.acquire()
    try:
        job = PartsExport(cfg, layout, path, spec, lock)
        previous = _load(path, overwrite=overwrite)
        recorded = parts_of(path, previous) if previous is not None else []
        decide(job, previous, recorded, overwrite=overwrite)
        if job.complete is None:
            _tidy(directory, path, recorded)
            if job.resume is not None:
                _check_present(directory, path, recorded)
                job.done = recorded
            highest, job.floor = scan(directory)
            job.number = max([highest, *(p.number for p in recorded)]) + 1
    except OSError as err:
        lock.release()
        raise InputError(f"--output-dir: cannot use {directory}: {describe(err)}") from None
    except BaseException:
        lock.release()
        raise
    return job


def _load(path: Path, *, overwrite: bool) -> Checkpoint | None:
    """The checkpoint in the directory; with --overwrite one that cannot be read is None."""
    if not path.exists():
        return None
    try:
        return ckpt_mod.load(path)
    except CheckpointError:
        if overwrite:
            return None
        raise


def parts_of(path: Path | str, ckpt: Checkpoint) -> list[PartInfo]:
    entry = ckpt.parts
    try:
        if not isinstance(entry, dict) or entry["format"] != _FORMAT:
            raise ValueError(entry)
        return [PartInfo.from_dict(item) for item in entry["parts"]]
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(
            f"{path} is not the checkpoint of an --output-dir sweep; restore the one the "
            f"sweep wrote, or delete {path} to start a new sweep there"
        ) from None


def decide(
    job: PartsExport, previous: Checkpoint | None, recorded: list[PartInfo], *, overwrite: bool
) -> None:
    if previous is None or overwrite:
        return
    changed = ckpt_mod.differences(previous.spec, job.spec)
    directory = job.where
    if previous.finished:
        if not changed:
            job.resume, job.complete = previous, _complete(directory, previous, recorded)
        return  # another question: a new sweep beside the finished one
    if changed:
        raise CheckpointError(
            f"--output-dir {directory} holds an unfinished sweep of another question "
            f"({'; '.join(changed)}); run its own command to finish it, or add --overwrite "
            "to leave it and start this one"
        )
    check_consistent(job.checkpoint, previous)
    job.resume = previous


def _complete(directory: Path | str, ckpt: Checkpoint, recorded: list[PartInfo]) -> Complete:
    restart = "add --overwrite to sweep it again into new parts"
    failed = sum(p.state == "failed" for p in ckpt.pairs)
    if failed:
        return Complete(
            f"trailsweep: --output-dir {directory} is finished with {failed} failed "
            f"pair(s); nothing was done: {restart}\n",
            1,
        )
    return Complete(
        f"trailsweep: --output-dir {directory} is complete ({ckpt.written:,} events in "
        f"{len(recorded)} parts); nothing was done: {restart}\n",
        0,
    )


def _tidy(directory: Path, path: Path, recorded: list[PartInfo]) -> None:
    """What a killed run left: recorded parts renamed into view, other temp parts and a
    checkpoint's temp file removed."""
    for info in recorded:
        roll_forward(directory, info)
    remove_temps(directory)
    remove_stale_temps(path)


def _check_present(directory: Path, path: Path, recorded: list[PartInfo]) -> None:
    """Each recorded part still in the directory has its recorded size."""
    for info in recorded:
        try:
            size = (directory / info.name).lstat().st_size
        except FileNotFoundError:
            continue  # taken by a shipper (module docstring)
        if size != info.stored:
            raise CheckpointError(
                f"{directory / info.name} is {size} bytes, its checkpoint {path} recorded "
                f"{info.stored}: the part was changed; restore it, or delete {path} to "
                "start a new sweep there"
            )


async def run_parts(
    job: PartsExport,
    report: SweepReport,
    *,
    clock: Clock = SYSTEM_CLOCK,
    hooks: PartHooks | None = None,
) -> int:
    """Write the sweep into parts, each recorded in the checkpoint as it closes; the exit
    code. Ctrl-C (a cancel) and a failing pair close the open part as the end of the run
    does; a part that could not be written is dropped and the last record stands."""
    hooks = hooks or PartHooks()
    cfg, pairs = _resumed(job, report)
    record = PartsRecord(job, report, Checkpoint(job.spec, cfg.query.describe(), []))
    record.before = hooks.commit
    writer = PartWriter(
        job.layout, commit=record.commit, on_part=hooks.on_part, clock=clock,
        number=job.number, floor=job.floor, store=job.target,
    )  # fmt: skip
    sink = PartSink(writer, raw=cfg.raw, observe=hooks.observe)
    finished = failed = False
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.close_when_old)
            stream = sweep_chunks(
                cfg, report=report, pairs=pairs, clock=clock,
                on_matrix=lambda: record.save(finished=False),
            )  # fmt: skip
            async with aclosing(stream) as chunks:
                async for chunk in chunks:
                    sink.write(chunk)
            tg.cancel_scope.cancel()
        finished = not report.interrupted
    except BaseException:
        failed = True
        raise
    finally:
        _end(record, writer, finished=finished, failed=failed)
    return report.exit_code


def _resumed(job: PartsExport, report: SweepReport) -> tuple[SweepSettings, list[PairState] | None]:
    prior = job.resume
    if prior is None:
        return job.cfg, None
    report.written = prior.written
    try:
        query = Query.from_describe(prior.query)
    except (KeyError, TypeError, ValueError):
        raise CheckpointQueryInvalid("the checkpoint's query is not valid") from None
    return dataclasses.replace(job.cfg, query=query), prior.pairs


def _end(record: PartsRecord, writer: PartWriter, *, finished: bool, failed: bool) -> None:
    """The open part closed and the last checkpoint saved, unless writing failed (then the
    open part is dropped and the last checkpoint stands); the lock released. A failure
    here is raised unless the run already failed (that one is the one to report)."""
    try:
        if writer.broken:
            writer.discard()
        elif record.report.pairs or record.saved:  # a matrix of no pairs is one too
            writer.close_part()
            record.save(finished=finished)
    except OutputFailed:
        writer.discard()
        if not failed:
            raise
    finally:
        record.job.lock.release()


class PartsRecord:
    """The checkpoint of a sweep into parts: `commit` records a closed part."""

    __slots__ = ("before", "done", "job", "report", "saved", "state")

    def __init__(self, job: PartsExport, report: SweepReport, state: Checkpoint) -> None:
        self.job, self.report, self.state = job, report, state
        self.done = list(job.done)
        self.before: Callable[[PartInfo], None] | None = None
        self.saved = False  # a checkpoint was saved (the matrix's, at least)

    def commit(self, info: PartInfo) -> None:
        if self.before is not None:
            self.before(info)
        self.done.append(info)
        try:
            self.save(finished=False)
        except BaseException:
            self.done.pop()
            raise

    def save(self, *, finished: bool) -> None:
        state, pairs = self.state, self.report.pairs
        state.pairs = pairs
        state.written = sum(p.cursor.written for p in pairs)
        state.offset = sum(p.size for p in self.done)
        state.finished = finished
        state.parts = {"format": _FORMAT, "parts": [p.as_dict() for p in self.done]}
        if self.job.target is not None:
            self.job.target.save_checkpoint(state)
            return
        try:
            ckpt_mod.save(Path(self.job.checkpoint), state)
            self.saved = True
        except OSError as err:
            raise CheckpointNotSaved(
                f"cannot save the checkpoint {self.job.checkpoint}: {describe(err)}; the "
                "previous one is kept"
            ) from None
