"""The final per-sweep summary on stderr: totals, then every failed pair with its reason."""

from __future__ import annotations

from typing import TextIO

from trailsweep.sweep import SweepReport


def print_summary(report: SweepReport, stream: TextIO) -> None:
    d = report.as_dict()
    stream.write(
        f"trailsweep: {d['pairs']} pairs, {d['done']} complete, {d['failed']} failed; "
        f"{d['events']} events in {d['seconds']:.1f}s "
        f"({d['calls']} calls, {d['throttled']} throttled)\n"
    )
    for p in report.failed:
        stream.write(f"trailsweep: failed {p.name}: {p.error}\n")
    stream.flush()
