"""A CloudTrail LookupEvents emulator (plus STS, Organizations, EC2 and Account) for tests,
benchmarks and the demo. See shared/LOOKUP_EVENTS.md for the contract it follows."""

from __future__ import annotations

from trailsweep.emulator.server import Emulator
from trailsweep.emulator.settings import EmulatorSettings, Faults
from trailsweep.emulator.thread import EmulatorThread

__all__ = ["Emulator", "EmulatorSettings", "EmulatorThread", "Faults"]
