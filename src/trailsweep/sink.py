"""Where the events go: NDJSON to --output (fsynced at the end) or to stdout.

A reader that goes away (`trailsweep sweep | head`) stops the sweep quietly, as any Unix
filter does: no traceback, exit status of the sweep so far.
"""

from __future__ import annotations

import os
import sys
from contextlib import aclosing
from typing import IO

from trailsweep.config import SweepConfig
from trailsweep.sweep import SweepReport, sweep


async def write_sweep(cfg: SweepConfig, report: SweepReport) -> int:
    """Run the sweep and write its NDJSON; returns the exit code."""
    out: IO[bytes] = cfg.output.open("wb") if cfg.output is not None else sys.stdout.buffer
    try:
        async with aclosing(sweep(cfg, report=report)) as events:
            async for event in events:
                out.write(event.line(raw=cfg.raw))
        out.flush()
    except BrokenPipeError:
        _silence_stdout()
    finally:
        if cfg.output is not None:
            out.flush()
            os.fsync(out.fileno())
            out.close()
    return report.exit_code


def _silence_stdout() -> None:
    # Python would complain again when it flushes stdout at exit; point it at /dev/null.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
