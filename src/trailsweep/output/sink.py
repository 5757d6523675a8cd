"""Where the events go.

- a stream (stdout): NDJSON as it comes (`write_ndjson`). At-least-once since the last
  checkpoint is all a pipe can promise; a reader that goes away (`| head`) stops the
  sweep (the CLI then ends quietly, as any Unix filter: `cli.stdout`).
- a file (`--output`): exactly-once. A lock keeps other runs off the file; the output is
  flushed and fsynced, then the checkpoint records its length, its sha256 and every
  pair's cursor (docs/design.md invariant 5). Running the same command again continues from
  there: the output is checked against the checkpoint (export_guard), cut back to the
  recorded length and each pair goes on from its cursor.

When a checkpoint is saved: as soon as the matrix is resolved (so that a run killed
after discovery never discovers again), when the first events of this run are written
for 1, 2, 4, 8... pairs and for all of them (FirstWrites), every `checkpoint_interval`
seconds while there is something new, and at the end. So every run that writes anything
leaves a checkpoint that holds it, however early it is killed.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import anyio

from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.base.errors import (
    CheckpointMismatch,
    CheckpointNotSaved,
    CheckpointQueryInvalid,
    CompressedOutput,
    OutputFailed,
)
from trailsweep.engine.pair import PairState, SweepEvent, advance_all, lines
from trailsweep.engine.sweep import SweepReport, sweep_chunks
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.output import rerun
from trailsweep.output.checkpoint import Checkpoint
from trailsweep.output.export_guard import (
    check_checkpoint_dir,
    check_consistent,
    check_output,
    refuse_collisions,
)
from trailsweep.output.outfile import OutputFile, check_target, describe
from trailsweep.output.rerun import Complete
from trailsweep.output.safe_files import Lock, remove_stale_temps
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.query import Query

if TYPE_CHECKING:
    from hashlib import _Hash

_COMPRESSED = (".gz", ".zst", ".bz2", ".xz")


@dataclass(slots=True)
class Export:
    """A file export, checked and locked before any AWS call."""

    cfg: SweepSettings
    output: Path
    checkpoint: Path
    spec: dict[str, Any]
    lock: Lock
    resume: Checkpoint | None = None
    # A finished export run again (rerun.py): print this, exit with its code, touch nothing.
    complete: Complete | None = None
    digest: _Hash | None = None  # sha256 of the resumed output up to the offset


def prepare_export(
    cfg: SweepSettings,
    spec: dict[str, Any],
    checkpoint: Path | None,
    *,
    summary: Path | None = None,
    overwrite: bool = False,
) -> Export:
    """Lock the output and decide between a fresh run and a resume; refuse (exit 2, output
    untouched, no lock left behind) an output that cannot be resumed, files that collide,
    a corrupt checkpoint or one that belongs to another question."""
    assert cfg.output is not None
    output = cfg.output
    if output.suffix in _COMPRESSED:
        raise CompressedOutput(
            f"{output.name} is compressed; trailsweep cannot resume a compressed file exactly"
        )
    check_target(output)
    path = checkpoint or ckpt_mod.default_path(output)
    refuse_collisions(output, path, summary)
    check_checkpoint_dir(path)
    lock = Lock(output)
    lock.acquire()
    try:
        previous = ckpt_mod.load(path) if path.exists() and not overwrite else None
        decision = rerun.decide(output, path, previous, spec, overwrite=overwrite)
        if decision == "complete" and previous is not None:
            done = rerun.complete(output, path, previous)
            return Export(cfg, output, path, spec, lock, previous, complete=done)
        if previous is not None and decision == "resume":
            changed = ckpt_mod.differences(previous.spec, spec)
            if changed:
                raise CheckpointMismatch(
                    f"{path} belongs to another sweep ({'; '.join(changed)})", output=str(output)
                )
            check_consistent(path, previous)
            digest = check_output(output, path, previous)
        else:
            previous, digest = None, None
        # Checked and locked: what a killed run left of a checkpoint write can go.
        remove_stale_temps(path)
        return Export(cfg, output, path, spec, lock, previous, digest=digest)
    except BaseException:
        lock.release()
        raise


async def run_export(
    export: Export,
    report: SweepReport,
    *,
    clock: Clock = SYSTEM_CLOCK,
    interval: float = 2.0,
) -> int:
    """Write the sweep to the output file, checkpointing as it goes; returns the exit code.

    The checkpoint only ever records bytes that were written whole and fsynced
    (outfile.OutputFile.committed); a write or fsync that fails stops the export with
    OutputFailed (exit 1) and the last good checkpoint kept."""
    cfg, pairs = _resumed(export, report)
    files = ExportFiles(export, report, Checkpoint(export.spec, cfg.query.describe(), []))
    finished = failed = False
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_save_every, files, clock, interval)
            await _write_sweep(files, cfg, report, pairs, clock)
            tg.cancel_scope.cancel()
        finished = not report.interrupted
    except BaseException:
        failed = True
        raise
    finally:
        _close(files, finished=finished, failed=failed)
    return report.exit_code


def _resumed(export: Export, report: SweepReport) -> tuple[SweepSettings, list[PairState] | None]:
    """The settings and pairs a run goes on with: a resume's pinned question and its pairs'
    cursors (and what it wrote before), else those of `export` and discovery's pairs."""
    prior = export.resume
    if prior is None:
        return export.cfg, None
    report.written = prior.written
    return _with_query(export.cfg, prior.query), prior.pairs


async def _save_every(files: ExportFiles, clock: Clock, interval: float) -> None:
    """A checkpoint every `interval` seconds while something new was written. It runs only
    while the writer awaits the next event, so what it saves is consistent."""
    while True:
        await clock.sleep(interval)
        if files.dirty:
            files.save(finished=False)


async def _write_sweep(
    files: ExportFiles, cfg: SweepSettings, report: SweepReport,
    pairs: list[PairState] | None, clock: Clock,
) -> None:  # fmt: skip
    """The sweep's lines into the file; the matrix and the first writes checkpointed."""
    first = FirstWrites()
    stream = sweep_chunks(
        cfg, report=report, pairs=pairs, clock=clock,
        on_matrix=lambda: files.save(finished=False),
    )  # fmt: skip
    async with aclosing(stream) as chunks:
        async for chunk in chunks:
            # Cursors advance only once the chunk's lines are all in the file.
            files.write(lines(chunk, raw=cfg.raw))
            advance_all(chunk)
            if first.due(chunk, report.pairs):
                files.save(finished=False)


def _close(files: ExportFiles, *, finished: bool, failed: bool) -> None:
    """The last checkpoint (when there is a matrix), then the file and the lock. A failure
    to save it is raised unless the run already failed (that first failure is the one to
    report). A matrix of no pairs (a shard with nothing to sweep) is a matrix too: its
    checkpoint was saved with the matrix (the file is open), and is finished here."""
    try:
        if files.report.pairs or files.out is not None:
            files.save(finished=finished)
    except OutputFailed:
        if not failed:
            raise
    finally:
        files.close()
        files.export.lock.release()


class ExportFiles:
    """The output of a run and its checkpoints: `save` records only what is fsynced."""

    __slots__ = ("dirty", "export", "out", "report", "state")

    def __init__(self, export: Export, report: SweepReport, state: Checkpoint) -> None:
        self.export, self.report, self.state = export, report, state
        self.out: OutputFile | None = None
        self.dirty = False  # written since the last checkpoint

    def output(self) -> OutputFile:
        # Opened on first use, at the matrix's checkpoint: a sweep that fails before it
        # has a matrix (credentials refused, say) leaves no file behind.
        if self.out is None:
            prior = self.export.resume
            if prior is None:
                # A new export's checkpoint (offset 0) before its file is cut: killed in
                # between, the next run resumes from nothing (rerun.py); a finished
                # checkpoint never stays beside a cut file, nor a written file without one.
                self.record(0, hashlib.sha256().hexdigest(), finished=False)
            self.out = OutputFile(
                self.export.output,
                resume_at=None if prior is None else prior.offset,
                digest=self.export.digest,
                mode=self.export.cfg.file_mode,
            )
        return self.out

    def write(self, data: bytes) -> None:
        self.output().write(data)
        self.dirty = True

    def save(self, *, finished: bool) -> None:
        f = self.output()
        f.sync()
        self.record(f.committed, f.digest.hexdigest(), finished=finished)
        self.dirty = False

    def record(self, offset: int, sha256: str, *, finished: bool) -> None:
        state, report = self.state, self.report
        state.pairs, state.offset = report.pairs, offset
        state.output_sha256 = sha256
        state.written = sum(p.cursor.written for p in report.pairs)
        state.finished = finished
        try:
            ckpt_mod.save(self.export.checkpoint, state)
        except OSError as err:
            raise CheckpointNotSaved(
                f"cannot save the checkpoint {self.export.checkpoint}: {describe(err)}; the "
                "previous one is kept"
            ) from None

    def close(self) -> None:
        if self.out is not None:
            self.out.close()


class FirstWrites:
    """Whether a chunk just written calls for a checkpoint: when the pairs that have
    written in this run reach 1, 2, 4, 8... and all of those that run. A checkpoint of
    3,000 pairs is ~1 MB and two fsyncs, so one per pair would cost more than the sweep;
    doubling costs a dozen, and the first chunk of every run is always kept."""

    __slots__ = ("next", "seen", "total")

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.next: int | None = 1
        self.total = 0

    def due(self, chunk: Sequence[SweepEvent], pairs: list[PairState]) -> bool:
        if self.next is None:
            return False
        if not self.seen:
            self.total = sum(not p.finished for p in pairs)
        self.seen.update(map(id, map(_PAIR_OF, chunk)))
        have = len(self.seen)
        if have < self.next:
            return False
        self.next = None if have >= self.total else min(2 * have, self.total)
        return True


_PAIR_OF = attrgetter("pair")


def _with_query(cfg: SweepSettings, pinned: dict[str, Any]) -> SweepSettings:
    try:
        query = Query.from_describe(pinned)
    except (KeyError, TypeError, ValueError):
        raise CheckpointQueryInvalid("the checkpoint's query is not valid") from None
    return dataclasses.replace(cfg, query=query)


async def write_ndjson(
    cfg: SweepSettings, report: SweepReport, out: IO[bytes], *, name: str = "stdout"
) -> int:
    """Run the sweep and write its NDJSON to the stream `out` (`name` in messages); returns
    the exit code. A reader that went away ends the sweep with BrokenPipeError; any other
    failure to write raises OutputFailed (a stream has nothing to resume)."""

    def put(data: bytes | None) -> None:
        try:
            out.write(data) if data is not None else out.flush()
        except BrokenPipeError:
            raise
        except OSError as err:
            # `> file` with no room, `> /dev/full`: one line and exit 1, as for --output.
            raise OutputFailed(f"cannot write to {name}: {describe(err)}") from None

    chunks_gen = sweep_chunks(cfg, report=report)
    async with aclosing(chunks_gen) as chunks:
        async for chunk in chunks:
            put(lines(chunk, raw=cfg.raw))
            advance_all(chunk)
    put(None)
    return report.exit_code
