"""How far a sweep got: its pairs (`SweepReport.pairs`, the PairState of each account
and region) and the share of the time window each one, and all of them, covered.

The CLI's progress bar, `trailsweep status` (from a checkpoint's pairs) and
--summary-json read these. They live in engine.pair, where the sweep keeps them up to
date; they are named here so that the CLI reaches them through this layer.
"""

from __future__ import annotations

from trailsweep.engine.pair import PairState, coverage, window_coverage

__all__ = ["PairState", "coverage", "window_coverage"]
