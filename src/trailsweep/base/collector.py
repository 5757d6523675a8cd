"""The garbage collector, set for a long sweep: for a process's owner only.

A sweep makes a dozen short-lived Python objects per event (the parsed event, its
Resources, the SweepEvent and its key) and almost no reference cycles, so reference
counting frees nearly all of them, while CPython's default thresholds (700, 10, 10) run a
young collection every few pages and, now and then, a full one over everything alive:
botocore's service models, every imported module. Measured on benchmarks/cpu.py's
CPU-bound sweep (134,000 events): 10-15% of the whole process's CPU.

`tune_for_sweeping` moves what is alive at start-up (modules, models) out of the
collector's sight (`gc.freeze`) and collects the young generation every 10,000
allocations instead of 700. Cycles still get collected, only later; memory stays bounded
by the sweep's own budgets (docs/design.md invariant 4).

Collector settings belong to the whole process, so the library never changes them: the
`trailsweep` command and its worker processes (engine/worker_main.py) call this as they
start, the way the command raises its open-file limit. A program that embeds the library
may call it too.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def tune_for_sweeping() -> None:
    """Freeze what is alive now and collect the young generation less often."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
