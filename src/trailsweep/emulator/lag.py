"""CloudTrail's delivery lag: when each event arrives, and so when LookupEvents shows it.

AWS documents that CloudTrail "typically delivers logs within an average of about 5
minutes of an API call. This time is not guaranteed", and that some events take up to 15
minutes. So events do not arrive in EventTime order, and LookupEvents (which returns only
what has arrived, newest first by EventTime) shows a late event *behind* newer ones a
poller has already seen.

The model. Each event carries a uniform draw `u` in [0, 1) (`Event.lag_draw`), a hash of
its identity made when its hour is generated (no random draw is taken for it, so every
other generated value is what it was without lag). Its delay is `Lag.delay(u)`, read
with the lag settings of the moment (`Faults.lag_median`, `lag_tail_share`,
`lag_tail_max`), so a change of settings while the emulator runs applies to every event
at once, and the same (seed, event, settings) always give the same delay:

- the body, a share 1 - `tail_share` of events: uniform on [0, 2 x `median`) (capped at
  `tail_max`), so its median is `median`;
- the tail, the share `tail_share`: uniform on [2 x `median`, `tail_max`) (from the cap
  when 2 x `median` passes `tail_max`): late, but never later than `tail_max`.

Delays are whole seconds (floored), as EventTimes are. An event is visible once the data
clock reads at least EventTime + delay (`Lag.arrival`). With `tail_max` 0 (the default:
`LAG_OFF`) every delay is 0 and every event is visible as soon as it happened, exactly
as before the model existed.

Decision, the defaults of `trailsweep emulator --lag` and `running_emulator(lag=True)`
(`AWS_LAG`): median 270 s, 5 % tail, 15 min max. The body then spans 0 to 9 minutes,
the mean delay is 0.95 x 270 + 0.05 x 720 = 292.5 s, "an average of about 5 minutes",
and one event in twenty takes 9 to 15 minutes, "some events take up to 15 minutes";
none takes longer, so a look-back of 15 minutes or more misses nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TypedDict


class LagSettings(TypedDict):
    """The lag fields of `Faults`, by name: `Faults(**AWS_LAG)`, `faults.update(AWS_LAG)`."""

    lag_median: float
    lag_tail_share: float
    lag_tail_max: float


# The lag settings that model AWS's stated delivery times (see the module's docstring).
AWS_LAG: LagSettings = {"lag_median": 270.0, "lag_tail_share": 0.05, "lag_tail_max": 900.0}
# No lag at all: the defaults of `Faults`.
LAG_OFF: LagSettings = {"lag_median": 0.0, "lag_tail_share": 0.0, "lag_tail_max": 0.0}

_DRAW_SCALE = 2.0**-64  # a 64-bit hash to a uniform draw in [0, 1)


def draw_of(hashed: int) -> float:
    """The uniform draw in [0, 1) of a 64-bit hash (`world.stable_hash`)."""
    return hashed * _DRAW_SCALE


def lag_problem(median: float, tail_share: float, tail_max: float) -> tuple[str, str] | None:
    """What is wrong with these lag settings, as (setting, reason), or None."""
    for name, value in (("lag_median", median), ("lag_tail_max", tail_max)):
        if not 0.0 <= value < math.inf:
            return name, f"must be a number of seconds >= 0, not {value:g}"
    if not 0.0 <= tail_share <= 1.0:
        return "lag_tail_share", f"must be a share between 0 and 1, not {tail_share:g}"
    if tail_max < median:
        return "lag_tail_max", (
            f"must be at least the median delay ({median:g} s), not {tail_max:g}: no "
            "event arrives later than the maximum"
        )
    return None


@dataclass(frozen=True, slots=True)
class Lag:
    """The delivery-lag settings of the moment: seconds, a share, seconds."""

    median: float = 0.0
    tail_share: float = 0.0
    tail_max: float = 0.0
    # Derived once, read per event (`delay` runs for every event a lagged query scans).
    _body_share: float = field(init=False, repr=False, compare=False)
    _body_scale: float = field(init=False, repr=False, compare=False)
    _body_end: float = field(init=False, repr=False, compare=False)
    _tail_scale: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problem = lag_problem(self.median, self.tail_share, self.tail_max)
        if problem is not None:
            raise ValueError(f"{problem[0]} {problem[1]}")
        body_end = min(2.0 * self.median, self.tail_max)
        body_share = 1.0 - self.tail_share
        derived = {
            "_body_share": body_share,
            "_body_scale": 2.0 * self.median / body_share if body_share > 0 else 0.0,
            "_body_end": body_end,
            "_tail_scale": (self.tail_max - body_end) / self.tail_share if self.tail_share else 0.0,
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    @property
    def off(self) -> bool:
        """True when every delay is 0 (no event is ever late)."""
        return self.tail_max <= 0.0

    def delay(self, u: float) -> int:
        """The delay, in whole seconds, of the event whose draw is `u` (in [0, 1))."""
        if u < self._body_share:
            return math.floor(min(u * self._body_scale, self._body_end))
        return math.floor(self._body_end + (u - self._body_share) * self._tail_scale)

    def arrival(self, time: int, u: float) -> int:
        """When an event of EventTime `time` and draw `u` arrives (epoch seconds)."""
        return time + self.delay(u)
