"""A test of a user's poller written against trailsweep.testing with delivery lag, as its
users will write one: mypy checks it in `make test`; nothing runs it. A change to the
kit that would break such a test (a name gone, a type changed) fails the type check."""

from __future__ import annotations

from typing import Any

from trailsweep.emulator import AWS_LAG, LAG_OFF, Faults, LagSettings
from trailsweep.testing import RunningEmulator, running_emulator


def late_events(emu: RunningEmulator, start: int) -> list[str]:
    """The events that have happened but not arrived: what a poller cannot see yet."""
    everything: list[dict[str, Any]] = emu.truth(emu.account, emu.region, start=start,
                                                 everything=True)  # fmt: skip
    arrivals: dict[str, int] = emu.arrivals(emu.account, emu.region, start=start,
                                            everything=True)  # fmt: skip
    now: int = emu.now
    return [e["EventId"] for e in everything if arrivals[e["EventId"]] > now]


def follow_for_an_hour(emu: RunningEmulator) -> list[int]:
    """An hour of data clock a minute at a time: what each minute will show, then there."""
    start, shown = emu.now, []
    for _ in range(60):
        ahead: list[dict[str, Any]] = emu.truth(emu.account, emu.region, start=start,
                                                as_of=emu.now + 60)  # fmt: skip
        moved: int = emu.advance(60)
        shown.append(len(ahead) if moved == emu.now else -1)
    emu.set_speed(0.0)
    end: int = emu.set_now(emu.now + 1)
    return [*shown, end]


def main() -> int:
    lag: LagSettings = AWS_LAG
    with running_emulator(seed=3, lag=True, faults=Faults(**lag), clock_speed=0.0) as emu:
        late = late_events(emu, emu.now - 3600)
        emu.thread.set_faults(**LAG_OFF)  # every event arrives at once from here on
        return len(late) + len(follow_for_an_hour(emu))
