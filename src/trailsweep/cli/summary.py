"""The final per-sweep summary on stderr: totals, then every failed pair with its reason,
then warnings about `--where` paths that no record read held (a typo, most likely)."""

from __future__ import annotations

from typing import TextIO

from trailsweep import SweepReport


def print_summary(report: SweepReport, stream: TextIO) -> None:
    d = report.as_dict()
    # Pairs cut short by --max-items are named as such: "complete" counts only pairs whose
    # every event is written, and exit 0 then means "stopped where asked", not "all done".
    stopped = f"{d['stopped_at_max_items']} stopped at --max-items, " if report.limited else ""
    stream.write(
        f"trailsweep: {d['pairs']} pairs, {d['done']} complete, {stopped}{d['failed']} failed; "
        f"{d['events']} events in {d['seconds']:.1f}s "
        f"({d['calls']} calls, {d['throttled']} throttled)\n"
    )
    for p in report.failed:
        stream.write(f"trailsweep: failed {p.name}: {p.error}\n")
    seen = report.where_seen
    if seen is not None and seen.records:
        for path in seen.missing.values():
            stream.write(
                f"trailsweep: warning: --where path {path} matched no record: none of the "
                f"{seen.records:,} records read has that field\n"
            )
    stream.flush()
