"""The data clock: the emulator's "now" for which events exist and which have arrived.

It starts at `EmulatorSettings.now` and runs at `speed` data seconds per wall-clock
second (the emulator's `Clock.wall`): 0 (the default) holds it still, 1 is `realtime`,
3600 runs an hour of data a second. Whatever its speed, it can be stepped forward
(`advance`, `set`), and its speed changed, while the emulator runs: through
`Emulator.data_clock`, `POST /_emulator/clock` or `RunningEmulator.advance`. So a test
holds it still and steps it, and an hour of following runs in milliseconds,
deterministically.

It never goes backwards: a step back is a SettingsError (HTTP 400), because what a
client has seen cannot un-happen, and the delivery-lag model (lag.py) and the NextTokens
(cloudtrail.py) assume that time only grows.

Its value is a whole number of seconds (floored), as EventTimes are.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from trailsweep.emulator.settings import SettingsError


class DataClock:
    """`now()` is `start` plus `speed` x the wall time since, plus every step."""

    __slots__ = ("_base", "_speed", "_wall", "_wall0")

    def __init__(self, start: float, speed: float, wall: Callable[[], float]) -> None:
        self._wall = wall
        self._base = float(start)
        self._wall0 = wall()
        self._speed = check_speed(speed)

    @property
    def speed(self) -> float:
        """Data seconds per wall-clock second (0: it moves only when stepped)."""
        return self._speed

    def now(self) -> int:
        """The data clock, epoch seconds."""
        if self._speed == 0.0:
            return math.floor(self._base)
        return math.floor(self._base + (self._wall() - self._wall0) * self._speed)

    def _rebase(self) -> None:
        """Fold the time run so far into the base, so a step or a new speed starts here."""
        if self._speed != 0.0:
            wall = self._wall()
            self._base += (wall - self._wall0) * self._speed
            self._wall0 = wall
        else:
            self._wall0 = self._wall()

    def advance(self, seconds: float) -> int:
        """Move the clock `seconds` (>= 0) forward; the new time."""
        if type(seconds) not in (int, float) or not 0 <= seconds < math.inf:
            raise SettingsError(
                f"the data clock moves only forward: advance takes seconds >= 0, not {seconds!r}"
            )
        self._rebase()
        self._base += seconds
        return self.now()

    def set(self, epoch: float) -> int:
        """Move the clock to `epoch` seconds, which must not be before its time now."""
        current = self.now()
        if type(epoch) not in (int, float) or not math.isfinite(epoch):
            raise SettingsError(f"the data clock's now takes epoch seconds, not {epoch!r}")
        if epoch < current:
            raise SettingsError(
                f"the data clock moves only forward: {epoch} is before its now, {current}"
            )
        self._rebase()
        self._base = max(self._base, float(epoch))
        return self.now()

    def set_speed(self, speed: float) -> None:
        """Run at `speed` data seconds per wall-clock second from now on (0: stop)."""
        checked = check_speed(speed)
        self._rebase()
        self._speed = checked

    def as_dict(self) -> dict[str, float | int]:
        """What GET /_emulator/clock shows."""
        return {"now": self.now(), "speed": self._speed}


def check_speed(speed: object) -> float:
    """`speed` as a float, if a data clock can run at it; else a SettingsError."""
    if not isinstance(speed, int | float) or isinstance(speed, bool) or not 0 <= speed < math.inf:
        raise SettingsError(
            f"the data clock's speed takes data seconds per wall second >= 0 (0: it moves "
            f"only when stepped), not {speed!r}"
        )
    return float(speed)
