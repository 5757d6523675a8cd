"""`trailsweep demo --follow`: following shown on the embedded emulator, with CloudTrail's
delivery lag on and time running fast.

The emulator's data clock runs `speed` times real time (its quota scaled with it, so a
pair still gets 2 calls a simulated second), and the follower runs on a clock of the same
speed (`base.clock.ScaledClock`): a poll every simulated 30 seconds, its line on stderr
(events, lag p50/p99/max, how far behind now), NDJSON on stdout, until Ctrl-C (exit 0).
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, datetime
from typing import Any

from trailsweep import SweepReport
from trailsweep.api.follow import Follower
from trailsweep.api.incremental import fresh_state
from trailsweep.base.clock import ScaledClock
from trailsweep.cli.runner import run_interruptible, silence_stdout
from trailsweep.emulator.lag import AWS_LAG
from trailsweep.emulator.settings import EmulatorSettings
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.options import Options


def run_demo_follow(settings: EmulatorSettings, opts: Options, speed: float) -> int:
    """Follow the demo's organization until Ctrl-C; the exit code."""
    faults = dataclasses.replace(settings.faults, rate=2.0 * speed, burst=2.0 * speed)
    faults.update(dict(AWS_LAG))
    emulated = dataclasses.replace(settings, faults=faults, clock_speed=speed, realtime=False)
    opts = dataclasses.replace(opts, max_items=None, end_time=None, follow=True)
    stop = SweepReport()
    out = sys.stdout.buffer

    def write(data: bytes) -> None:
        out.write(data)

    def said(f: Follower) -> None:
        sys.stderr.write(f.line())

    async def work() -> None:
        from trailsweep.emulator.server import Emulator  # loaded when used (start-up)

        async with Emulator(emulated) as emu:
            info: dict[str, Any] = emu.ready_info()
            sys.stderr.write(
                f"trailsweep demo: emulator at {info['url']}, its clock {speed:g}x real time, "
                "delivery lag on; following it (Ctrl-C to stop)\n"
            )
            clock = ScaledClock(speed, emu.data_now())
            cfg = SweepSettings.from_options(
                opts.overlay(Options(endpoint_url=info["url"], region=info["region"])),
                now=datetime.fromtimestamp(int(clock.wall()), UTC),
                access_key_id=info["access_key_id"],
                secret_access_key=info["secret_access_key"],
            )
            follower = Follower(cfg, fresh_state(cfg), clock=clock, on_poll=said)
            try:
                await follower.run(write, out.flush)
            except BrokenPipeError:
                silence_stdout()

    code = run_interruptible(work, stop, stopping="flushing stdout")
    return 0 if stop.interrupted else code
