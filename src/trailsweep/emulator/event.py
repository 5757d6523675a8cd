"""One generated event: what `History` makes, filters and orders, and `render` turns into
the bytes LookupEvents returns (its own module, so that neither of the two imports the
other)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trailsweep.emulator.cast import Actor
from trailsweep.emulator.template import Template


@dataclass(frozen=True, slots=True)
class Event:
    """One generated event: what filters and ordering need; the rest is rendered from `detail`."""

    time: int
    hour: int
    rank: int
    event_id: str
    template: Template
    username: str | None
    access_key_id: str | None
    resources: tuple[tuple[str, str], ...]
    insight: bool
    detail: int  # seed for the parts only the rendered record needs
    # Uniform in [0, 1), a hash of the event's identity: its delivery delay under the lag
    # settings of the moment is `Lag.delay(lag_draw)` (lag.py).
    lag_draw: float = 0.0
    actor: Actor | None = None  # who made the call (cast.py); None: Insights events
    # The session the call ran in: its ASIA key and the epoch second it was issued (the
    # time of the call that issued it, this event's own when it is that call).
    session: tuple[str, int] | None = None
    # A planted scenario's values (scenarios.py): shape values given, not drawn, and
    # "error" (code, message) when the call failed.
    fixed: Mapping[str, Any] | None = None

    def matches(self, key: str, value: str) -> bool:
        """Whether a LookupEvents attribute selects this event."""
        t = self.template
        match key:
            case "EventId":
                return self.event_id == value
            case "EventName":
                return t.name == value
            case "EventSource":
                return t.source == value
            case "ReadOnly":
                return not self.insight and ("true" if t.read_only else "false") == value
            case "Username":
                return self.username == value
            case "AccessKeyId":
                return self.access_key_id == value
            case "ResourceType":
                return any(rt == value for rt, _ in self.resources)
            case "ResourceName":
                return any(rn == value for _, rn in self.resources)
        return False
