"""Running a sweep from the CLI: progress, Ctrl-C / SIGTERM (logging: cli_logs), and the
process's stdout.

The first SIGINT or SIGTERM stops calling, lets the output be flushed and checkpointed,
prints the summary and exits 130. A second one exits at once: checkpoints are written
by atomic rename, so the one on disk is always whole and consistent with the output.

`api.exporting.write_ndjson` writes to any stream and raises what happened; only the CLI,
which owns the process, points its fd 1 elsewhere once a reader went away or stdout
failed (`write_stdout`, `silence_stdout`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType

import anyio

from trailsweep import SweepReport
from trailsweep.api.exporting import write_ndjson
from trailsweep.base.errors import OutputFailed
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.query import Query

# Where the hard limit is unlimited: Linux refuses a soft limit above its fs.nr_open
# (1,048,576 by default), so ask for that much rather than for "unlimited".
_OPEN_FILES_CAP = 1 << 20


def raise_open_files() -> None:
    """Raise this process's soft open-file limit to its hard limit, once, as the command
    starts. The sweep sizes its connection pool from the limit it finds
    (`aws.lean.connection_limit`) and never changes it: the limit is the process's, so
    only the process's owner, the CLI, raises it. Refused (a sandbox, say): left as is."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _OPEN_FILES_CAP if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def run_interruptible(
    work: Callable[[], Awaitable[None]],
    report: SweepReport,
    *,
    progress: tuple[Query, bool] | None = None,
    checkpoint: Path | str | None = None,
    stopping: str | None = None,
) -> int:
    """Run `work` until it ends or a signal stops it; returns the exit code. `checkpoint`:
    the export's checkpoint file, which the first signal says it saves (None: stdout,
    which has none, and the line says that instead); `stopping`: what the line says
    instead (a follower's)."""
    said = (
        f"trailsweep: stopping; {stopping} (again to quit now)\n"
        if stopping is not None
        else f"trailsweep: stopping; saving the checkpoint {checkpoint} (again to quit now)\n"
        if checkpoint is not None
        else "trailsweep: stopping; stdout has no checkpoint: a new run starts over "
        "(again to quit now)\n"
    ).encode(errors="replace")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with anyio.create_task_group() as tg:

            def second(signum: int, frame: FrameType | None) -> None:
                os._exit(130)

            def first(signum: int, frame: FrameType | None) -> None:
                report.interrupted = True
                signal.signal(signal.SIGINT, second)
                signal.signal(signal.SIGTERM, second)
                os.write(2, said)
                loop.call_soon_threadsafe(tg.cancel_scope.cancel)

            previous = {s: signal.signal(s, first) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                if progress is not None:
                    # Here, not at the top: rich is a tenth of a second of start-up that
                    # a run without a progress bar (cron, pipes, --no-progress) never uses.
                    from trailsweep.cli.progress import refresh_interval, show_progress

                    query, force = progress
                    interval = refresh_interval(os.environ)
                    tg.start_soon(
                        lambda: show_progress(report, query, force=force, interval=interval)
                    )
                await work()
                tg.cancel_scope.cancel()
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)

    anyio.run(main)
    return report.exit_code


async def write_stdout(cfg: SweepSettings, report: SweepReport) -> int:
    """Run the sweep and write its NDJSON to stdout; returns the exit code. A reader that
    went away (`| head`) stops the sweep quietly, as any Unix filter; a stdout that cannot
    be written (`> /dev/full`) raises OutputFailed, with stdout silenced first."""
    try:
        return await write_ndjson(cfg, report, sys.stdout.buffer)
    except BrokenPipeError:
        silence_stdout()
    except OutputFailed:
        silence_stdout()
        raise
    return report.exit_code


def silence_stdout() -> None:
    """Point fd 1 at /dev/null: Python would complain again when it flushes stdout at exit
    (a closed pipe, a full disk)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
