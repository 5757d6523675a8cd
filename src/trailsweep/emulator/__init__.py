"""A CloudTrail LookupEvents emulator (plus STS, Organizations, EC2 and Account) for tests,
benchmarks and the demo. It follows "The LookupEvents contract" in docs/design.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trailsweep.emulator.lag import AWS_LAG, LAG_OFF, Lag, LagSettings
from trailsweep.emulator.settings import EmulatorSettings, Faults, SettingsError

if TYPE_CHECKING:
    from trailsweep.emulator.server import Emulator
    from trailsweep.emulator.thread import EmulatorThread


def __getattr__(name: str) -> Any:
    # The server (aiohttp.web and the event generator) loads on first use: every
    # `trailsweep` command imports this package for the demo and emulator commands, and
    # loading the server up front was half of a sweep's start-up (0.13 of ~0.3 s).
    if name == "Emulator":
        from trailsweep.emulator.server import Emulator

        return Emulator
    if name == "EmulatorThread":
        from trailsweep.emulator.thread import EmulatorThread

        return EmulatorThread
    raise AttributeError(name)


__all__ = [
    "AWS_LAG",
    "LAG_OFF",
    "Emulator",
    "EmulatorSettings",
    "EmulatorThread",
    "Faults",
    "Lag",
    "LagSettings",
    "SettingsError",
]
