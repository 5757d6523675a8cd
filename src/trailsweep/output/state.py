"""The state file of incremental runs (`sweep --state FILE`): for every pair, where its
last complete window ended and the EventIds written near that end.

CloudTrail delivers an event minutes after it happened (about 5 typically, up to 15 for
some), and LookupEvents returns only what has arrived, newest first by EventTime: a late
event lands *behind* newer ones a run has already written. So a run does not start where
the last one ended. Each pair covers again the look-back before its mark, and skips the
EventIds it wrote there:

    window of a pair = [max(mark.end - lookback, mark.since), this run's pinned end]

`since` is where the pair's known EventIds begin (a first run's start, or the previous
look-back), so a look-back made longer between runs never reaches past what is known. An
event older than the window's start that arrives after the run cannot be seen by any
later run: the look-back must be longer than the delivery lag (README: "Incremental
runs and following").

A pair that does not finish (failed, interrupted, stopped at --max-items) keeps its mark
and its window start, and records what it did write as spans (every event of the open
interval between two seconds was written) and EventIds (the look-back near the run's end,
and the oldest second it reached): bounded by the look-back, however much it wrote.

The file is written atomically (safe_files.atomic_write), only once the output it
accounts for is durable; `pending` names a run that started and has not committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trailsweep.base.errors import StateError
from trailsweep.output.safe_files import unsealed, write_sealed
from trailsweep.settings.config import DEFAULT_LOOKBACK

VERSION = 1


@dataclass(slots=True)
class Mark:
    """One pair's place: `end` of its last complete window (None: never completed one),
    `since` where its `ids` (EventId -> EventTime) are complete from, `spans` of seconds
    (open intervals) whose events were all written by runs that did not finish, and
    `start`, where the window of a pair that has not completed one starts."""

    end: int | None = None
    since: int | None = None
    ids: dict[str, int] = field(default_factory=dict)
    spans: list[tuple[int, int]] = field(default_factory=list)
    start: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "end": self.end,
            "since": self.since,
            "start": self.start,
            "spans": [list(s) for s in self.spans],
            "ids": self.ids,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Mark:
        def opt(value: Any) -> int | None:
            return None if value is None else int(value)

        return cls(
            end=opt(d["end"]),
            since=opt(d["since"]),
            start=opt(d.get("start")),
            spans=[(int(a), int(b)) for a, b in d["spans"]],
            ids={str(k): int(v) for k, v in d["ids"].items()},
        )


@dataclass(slots=True)
class State:
    """What a state file holds: the question it belongs to (`spec`), the look-back it was
    written with, every pair's mark, and the run in progress (`pending`: its output)."""

    spec: dict[str, Any]
    lookback: int = DEFAULT_LOOKBACK
    marks: dict[str, Mark] = field(default_factory=dict)
    runs: int = 0
    end: int | None = None  # the pinned end of the last run that committed
    # The run that started and has not committed: its output and checkpoint files.
    # The run that started and has not committed: its output and checkpoint files (and,
    # into parts, the EventIds its recorded parts hold near its end: "near").
    pending: dict[str, Any] | None = None
    last_part: str | None = None  # the last complete part (--output-dir)

    def body(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "spec": self.spec,
            "lookback": self.lookback,
            "runs": self.runs,
            "end": self.end,
            "pending": self.pending,
            "last_part": self.last_part,
            "pairs": {name: m.as_dict() for name, m in sorted(self.marks.items())},
        }


def state_spec(
    lookup_attributes: list[dict[str, Any]], where: list[str], category: str | None
) -> dict[str, Any]:
    """The part of a sweep a state file belongs to: what selects events. Another question
    would skip or repeat events by the other's marks; the accounts and regions may change
    (pairs come and go), and so may the window's start (it only reaches new pairs)."""
    return {"lookup_attributes": lookup_attributes, "where": where, "event_category": category}


def save(path: Path, state: State) -> None:
    """Atomically: a temp file, fsync, rename over, fsync the directory. The body's sha256
    rides along, so a torn or edited file is refused rather than trusted."""
    write_sealed(path, state.body())


def load(path: Path) -> State:
    """The state in `path`; StateError (exit 2, one line) for anything torn or foreign."""
    fix = f"delete {path} to start over (the next run sweeps its whole window again)"
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise StateError(f"cannot read state file {path}: {err.strerror}") from None
    body = unsealed(raw)
    if body is None:
        raise StateError(f"state file {path} is corrupt or not a trailsweep state; {fix}")
    try:
        if body["version"] != VERSION:
            raise StateError(f"state file {path} is from another trailsweep version; {fix}")
        return State(
            spec=dict(body["spec"]),
            lookback=int(body["lookback"]),
            marks={str(k): Mark.from_dict(v) for k, v in body["pairs"].items()},
            runs=int(body["runs"]),
            end=None if body["end"] is None else int(body["end"]),
            pending=_pending(body["pending"]),
            last_part=None if body["last_part"] is None else str(body["last_part"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise StateError(f"state file {path} does not hold a valid state; {fix}") from None


def _pending(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    pending: dict[str, Any] = {"output": str(raw["output"]), "checkpoint": str(raw["checkpoint"])}
    if "near" in raw:
        pending["near"] = {
            str(name): {str(i): int(t) for i, t in ids.items()} for name, ids in raw["near"].items()
        }
    return pending


def refuse_other_question(path: Path, state: State, spec: dict[str, Any]) -> None:
    """StateError naming what differs when `state` belongs to another question."""
    changed = [
        f"{key} was {state.spec.get(key)!r}, now {spec.get(key)!r}"
        for key in sorted(set(state.spec) | set(spec))
        if state.spec.get(key) != spec.get(key)
    ]
    if changed:
        fix = "the same filters, or another --state file"
        if state.spec.get("shard") != spec.get("shard"):
            fix = "the same --shard, or another --state file (one for each shard)"
        raise StateError(
            f"state file {path} belongs to another question ({'; '.join(changed)}); give {fix}"
        )
