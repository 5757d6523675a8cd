"""`trailsweep sweep --follow`: the follower (api/follow.py) on stdout, its periodic line
on stderr, and a stop by Ctrl-C or SIGTERM that flushes, saves --state and exits 0."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from trailsweep import SweepReport
from trailsweep.api.follow import Follower, FollowParts
from trailsweep.api.incremental import StateRun, fresh_state
from trailsweep.api.preflight import check_reachable, write_created
from trailsweep.cli.logs import LogSettings
from trailsweep.cli.runner import run_interruptible, silence_stdout
from trailsweep.settings.config import SweepSettings

_LINE_EVERY = 60.0  # seconds between periodic lines (every poll with --verbose)


def run_follow(
    settings: SweepSettings, state: StateRun | None, logs: LogSettings, *, verbose: bool,
    quiet: bool, summary_json: str | None = None,
) -> int:  # fmt: skip
    """Follow until stopped; the exit code (0 when stopped by a signal)."""
    check_reachable(settings)
    logs.setup(sys.stderr)
    follower = Follower(settings, state.state if state is not None else fresh_state(settings))
    last = [float("-inf")]

    def periodic(f: Follower) -> None:
        now = f.clock.monotonic()
        if not quiet and (verbose or now - last[0] >= _LINE_EVERY):
            last[0] = now
            sys.stderr.write(f.line())

    follower.on_poll = periodic
    out = sys.stdout.buffer
    stop = SweepReport()  # what run_interruptible marks when a signal comes
    parts = None
    if settings.output_dir is not None:  # a closed part saves the state (follow_parts.py)
        parts = FollowParts(
            settings, commit=lambda _: state.save(follower.commit()) if state else None,
            clock=follower.clock,
        )  # fmt: skip
    elif state is not None:
        follower.save = state.save

    def write(data: bytes) -> None:
        out.write(data)

    async def work() -> None:
        try:
            if parts is not None:
                await follower.run(parts.write, parts.flush)
            else:
                await follower.run(write, out.flush)
        except BrokenPipeError:  # the reader went away: stop as any Unix filter
            silence_stdout()

    into = f"closing the open part in {settings.output_dir}" if parts else "flushing stdout"
    saving = (
        f"{into}, saving the state {settings.state}"
        if settings.state
        else (f"{into}; without --state a new run starts over")
    )
    code = run_interruptible(work, stop, stopping=saving)
    try:
        _stop(parts, state, follower, out)
    finally:
        if parts is not None:
            parts.release()
    if not quiet:
        sys.stderr.write(follower.line())
    if summary_json:
        doc = {"follow": follower.as_dict(), "lookback_seconds": settings.lookback}
        write_created(
            Path(summary_json), orjson.dumps(doc, option=orjson.OPT_INDENT_2), settings.file_mode
        )
    return 0 if stop.interrupted else code


def _stop(parts: FollowParts | None, state: StateRun | None, follower: Follower, out: Any) -> None:
    """What a stopped follower keeps: its open part closed (which saves the state), or
    stdout flushed, then the state as far as written."""
    if parts is not None:
        parts.close()
        return
    try:
        out.flush()
    except BrokenPipeError:
        silence_stdout()
    if state is not None:
        state.save(follower.commit())
