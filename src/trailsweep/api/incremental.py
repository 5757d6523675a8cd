"""Incremental runs (`sweep --state FILE`): the state read and checked before any call,
given to the sweep, and saved once the output it accounts for is durable.

    run = open_state(settings, export)   # StateError (exit 2) before any call
    report.increment = run.start(export)
    ... run_export(export, report) or write_ndjson(...) ...
    run.commit(report)                    # after the output is durable
    run.close()

Exactly once across runs and crashes (docs/design.md invariant 5, carried over runs):

- to a file (`--output`): before its first call the run writes its output's name into
  the state as `pending`. Killed, the same command resumes the file from its checkpoint,
  with the same state, and the EventIds it had written are read back from the file.
  The state is saved after the export's last checkpoint; a run killed between the two
  is committed by the next run, from its finished file.
  Decision: a run with another `--output` refuses while the pending one is unfinished
  (one line naming it), rather than silently re-writing what the killed run wrote.
- to stdout: nothing can be resumed; the state is saved at the end with what was
  written, whatever the exit (an interrupted run's pairs keep their marks). A run killed
  outright writes its events again next time: at least once, as for any pipe.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trailsweep.api.lag import span
from trailsweep.base.errors import CheckpointError, StateError
from trailsweep.engine.pair import PairState, SweepEvent
from trailsweep.engine.sweep import SweepReport
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.output.increment import Increment
from trailsweep.output.parts import PartInfo
from trailsweep.output.parts_export import PartHooks, PartsExport
from trailsweep.output.safe_files import Lock, check_writable
from trailsweep.output.sink import Export
from trailsweep.output.state import State, load, refuse_other_question, save, state_spec
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.query import Query
from trailsweep.settings.timeparse import format_time, from_epoch, to_epoch


def spec_of_state(settings: SweepSettings) -> dict[str, object]:
    """What a state file belongs to (output/state.py `state_spec`), and with --shard the
    shard: the marks of one shard's pairs are no use to another shard, whose pairs would
    all start as new and whose own would be dropped as removed. Only when given, so a
    state of a whole sweep is the same bytes it was."""
    query = settings.query
    spec = state_spec(
        [a.to_api() for a in query.attributes],
        [w.text for w in query.where],
        "insight" if query.insight else None,
    )
    if settings.shard is not None:
        spec["shard"] = str(settings.shard)
    return spec


@dataclass(slots=True)
class Quiet:
    """An Increment as the sweep sees it when something else tells it what was written
    (a run into parts: as each event enters a part; a follower with --settle: as events
    settle): told of the pairs, not of the chunks."""

    inc: Increment

    def begin(self, pairs: list[PairState], query: Query) -> None:
        self.inc.begin(pairs, query)

    def written(self, chunk: Sequence[SweepEvent]) -> None:
        pass

    def as_dict(self) -> dict[str, Any]:
        return self.inc.as_dict()


@dataclass(slots=True)
class StateRun:
    """The state file of one run, locked from `open_state` to `close`."""

    path: Path
    state: State
    lock: Lock
    lookback: int
    increment: Increment | None = None

    def start(self, export: Export | PartsExport | None) -> Increment:
        """The run's Increment (for `SweepReport.increment`); for a file or a directory
        of parts, the state says the run is pending before any call, and what a killed
        run of it had written is read back (a file's lines; the EventIds the state kept
        of the parts)."""
        inc = self.increment = Increment(self.state, self.lookback)
        if export is None:
            return inc
        target = _target(export)
        pending = self.state.pending
        if pending is None or pending["output"] != target:
            pending = {"output": target, "checkpoint": str(export.checkpoint)}
            if isinstance(export, PartsExport):
                pending["near"] = {}
            self.state.pending = pending
            self.save(self.state)
        prior = export.resume
        if prior is None:
            return inc
        if isinstance(export, PartsExport):
            inc.restore(pending.get("near", {}))
        else:
            end = to_epoch(Query.from_describe(prior.query).end)
            inc.recover(_lines(export.output, prior.offset), end)
        return inc

    def attach(self, report: SweepReport, export: Export | PartsExport | None) -> None:
        """Start the run (`start`) and give it to `report`, as the sink needs it."""
        inc = self.start(export)
        report.increment = Quiet(inc) if isinstance(export, PartsExport) else inc

    def hooks(self) -> PartHooks:
        """For a run into parts: the Increment hears each event as it enters a part, and
        the state keeps its EventIds before each part is recorded."""
        inc = self.increment
        assert inc is not None

        def commit(_: PartInfo) -> None:
            assert self.state.pending is not None
            self.state.pending["near"] = inc.near()
            self.save(self.state)

        return PartHooks(observe=inc.written, commit=commit)

    def committed(self, export: Export | PartsExport) -> bool:
        """Whether the finished `export` is in the state already (no run of it pending)."""
        pending = self.state.pending
        return pending is None or pending["output"] != _target(export)

    def commit_finished(self, export: Export | PartsExport) -> None:
        """A finished output whose run was killed before its state was saved: commit it."""
        pending = self.state.pending
        if pending is None or pending["output"] != _target(export):
            return
        assert export.resume is not None
        _commit_pending(self, pending, export.resume)

    def commit(self, report: SweepReport, *, to_file: bool) -> None:
        """Save the state this run leaves: always for stdout; for a file, only once its
        export finished (an interrupted or failed file is resumed, not committed)."""
        inc = self.increment
        if inc is None or not inc.pairs:
            return
        if to_file and (report.interrupted or report.finished is None):
            return
        self.save(inc.commit())

    def save(self, state: State) -> None:
        """Write `state` to the file (atomically); it is the state from now on."""
        try:
            save(self.path, state)
        except OSError as err:
            raise StateError(f"cannot write state file {self.path}: {err.strerror}") from None
        self.state = state

    def close(self) -> None:
        self.lock.release()


def fresh_state(settings: SweepSettings) -> State:
    """The state of a first run of `settings` (kept in memory when there is no --state)."""
    return State(spec=spec_of_state(settings), lookback=settings.lookback)


@contextmanager
def state_of(
    settings: SweepSettings, export: Export | PartsExport | None
) -> Iterator[StateRun | None]:
    """The run's state (`open_state`; None without `settings.state`), locked for the
    block. Refused, it releases the export's lock first, as every refusal before a call
    does; the block may release that lock itself (a finished export left alone)."""
    try:
        state = open_state(settings, export) if settings.state is not None else None
    except BaseException:
        if export is not None:
            export.lock.release()
        raise
    try:
        yield state
    finally:
        if state is not None:
            state.close()


def open_state(settings: SweepSettings, export: Export | PartsExport | None) -> StateRun:
    """The state file of `settings.state`, locked, checked against the question and the
    run in progress; a fresh State when there is none yet (saved at the run's end)."""
    path = settings.state
    assert path is not None
    # Before the lock, which lives beside the file: a missing directory or a directory
    # named as the state is said as such, naming --state (not the lock's path).
    check_writable(path, "--state")
    lock = Lock(path, option="--state")
    lock.acquire()
    try:
        state = load(path) if path.exists() else fresh_state(settings)
        refuse_other_question(path, state, spec_of_state(settings))
        run = StateRun(path, state, lock, settings.lookback)
        pending = state.pending
        output = None if export is None else _target(export)
        if pending is not None and pending["output"] != output:
            _settle_other(run, pending)
        _refuse_going_back(run, to_epoch(settings.query.end))
    except BaseException:
        lock.release()
        raise
    return run


def _settle_other(run: StateRun, pending: dict[str, Any]) -> None:
    """Another output's run is pending: commit it if its file is finished, else refuse."""
    output, checkpoint = Path(pending["output"]), Path(pending["checkpoint"])
    prior = None
    if checkpoint.exists():
        try:
            prior = ckpt_mod.load(checkpoint)
        except CheckpointError:
            prior = None
    if prior is None or not prior.finished:
        raise StateError(
            f"state file {run.path}: the run writing {output} did not finish; run the same "
            f"command with --output {output} to finish it (it resumes), then go on"
        )
    _commit_pending(run, pending, prior)


def _refuse_going_back(run: StateRun, end: int) -> None:
    """Decision: a run must not end before the run the state last saved. Its pairs'
    windows would be empty but for their end second (written again), and their marks
    would move back: the next run would write again all that lies between the two ends,
    its EventIds long forgotten. (A resumed file keeps its pinned end, which passed this
    when it started; the same end again is fine: it catches late events only.)"""
    last = run.state.end
    if last is not None and end < last:
        raise StateError(
            f"state file {run.path}: its last run ended at {format_time(from_epoch(last))}, "
            f"after this run's --end-time {format_time(from_epoch(end))}; give an end at or "
            "after it, or another --state file"
        )


def _commit_pending(run: StateRun, pending: dict[str, Any], prior: ckpt_mod.Checkpoint) -> None:
    """Commit the finished run `pending` names, killed before its state was saved: the
    EventIds it wrote near its end come back from the state (into parts: kept as each part
    was recorded) or from its file. Decision: a file gone or cut short (a log shipper that
    removes what it has read) is refused, not committed without them, which would have
    the next run write the look-back's events again."""
    inc = Increment(run.state, run.lookback)
    query = Query.from_describe(prior.query)
    inc.begin(prior.pairs, query)
    if "near" in pending:
        inc.restore(pending["near"])
        run.save(inc.commit())
        return
    output = Path(pending["output"])
    try:
        whole = output.stat().st_size >= prior.offset
        if whole:
            inc.recover(_lines(output, prior.offset), to_epoch(query.end))
    except (OSError, ValueError, KeyError, TypeError):  # gone, unreadable, not its lines
        whole = False
    if not whole:
        raise StateError(
            f"state file {run.path}: {output}, the finished output of its last run, is "
            "missing or does not hold what its checkpoint says, so the events it wrote "
            f"cannot be read back; put it back, or delete {run.path} to start over"
        )
    run.save(inc.commit())


def _target(export: Export | PartsExport) -> str:
    """What `pending` names: the output file, or the directory of parts."""
    return str(export.layout.directory if isinstance(export, PartsExport) else export.output)


def _lines(path: Path, offset: int) -> Iterator[bytes]:
    """The whole lines of the file's first `offset` bytes."""
    with path.open("rb") as f:
        left = offset
        for line in f:
            if left <= 0:
                return
            left -= len(line)
            if line.endswith(b"\n") and left >= 0:
                yield line


def state_line(report: SweepReport, run: StateRun) -> str:
    """What the summary says of the state: saved or pending, pairs that came and went,
    and the late events the look-back caught (a warning when they come near it)."""
    inc = run.increment
    if inc is None or not inc.pairs:
        return f"state {run.path}: not changed\n"
    if run.state.pending is not None:
        return f"state {run.path}: not saved yet; the same command resumes this run\n"
    parts = [f"state {run.path}: saved (run {run.state.runs})"]
    if inc.added:
        parts.append(f"{len(inc.added)} new account/region pairs swept from their start")
    if inc.removed:
        parts.append(f"{len(inc.removed)} pairs no longer in the sweep (their marks kept)")
    late = inc.late
    if late.caught:
        parts.append(
            f"{late.caught} events delivered late caught by the {span(inc.lookback)} "
            f"look-back (the latest at least {span(late.most)} late)"
        )
    line = "; ".join(parts) + "\n"
    if late.most * 5 >= inc.lookback * 4:
        line += (
            f"warning: an event arrived at least {span(late.most)} late, within a fifth of "
            f"--lookback {span(inc.lookback)}; later ones would be missed: make it longer\n"
        )
    return line
