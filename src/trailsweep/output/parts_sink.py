"""A sweep's chunks of events into parts: lines, cursors and the size roll, in one place.

`PartSink.write(chunk)` cuts a chunk where a part fills up (a part holds at most
`layout.size` bytes of NDJSON unless one line is longer), and for each piece: writes its
lines into the open part, advances its pairs' cursors, tells `observe`, then closes the
part if it is full. So whenever a part closes, every line written is in it or in a part
before it, and the cursors are exactly those after its last line: what its commit records
(parts.py). Whoever drives a sweep into parts (a sweep's export, an incremental run,
a follower) writes its chunks through here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from trailsweep.engine.pair import SweepEvent, advance_all, lines
from trailsweep.output.parts import PartWriter

Observe = Callable[[Sequence[SweepEvent]], None]


class PartSink:
    """Writes chunks of events through `writer`; `raw` as `--raw`; `observe(events)` is
    called with every piece of a chunk once its lines are in the open part and its
    cursors advanced, before that part may close (so an observer has seen every event of
    a part before the part's commit)."""

    __slots__ = ("observe", "raw", "writer")

    def __init__(self, writer: PartWriter, *, raw: bool, observe: Observe | None = None) -> None:
        self.writer, self.raw, self.observe = writer, raw, observe

    def write(self, chunk: Sequence[SweepEvent]) -> None:
        if not chunk:
            return
        data = lines(chunk, raw=self.raw)
        limit = self.writer.layout.size
        used = self.writer.used
        first = start = pos = 0  # the piece: its first event, its first byte; the line's
        for i in range(len(chunk)):
            end = data.index(b"\n", pos) + 1
            if used and used + (end - pos) > limit:  # line i starts the next part
                self._put(chunk[first:i], data[start:pos])
                self.writer.close_part()
                used, first, start = 0, i, pos
            used += end - pos
            pos = end
            if used >= limit:  # full (a line as long as the limit, or longer, alone)
                self._put(chunk[first : i + 1], data[start:pos])
                self.writer.close_part()
                used, first, start = 0, i + 1, pos
        self._put(chunk[first:], data[start:])

    def _put(self, events: Sequence[SweepEvent], data: bytes) -> None:
        if not events:
            return
        times = [-e.key[0] for e in events]
        self.writer.write(data, len(events), max(times), min(times))
        advance_all(events)
        if self.observe is not None:
            self.observe(events)
