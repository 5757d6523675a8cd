"""A follower's output into `--output-dir` parts (`sweep --follow --output-dir DIR`).

Lines go into the open part as each poll writes them; a part closes only between polls,
once it holds `--part-size` bytes or its first line is `--part-age` old, and when the
follower stops. Closing is the commit point: the part is fsynced, then `commit` saves the
follower's state as of that poll (api/follow.py computes it before the part closes), then
the part is renamed into view. So the state never accounts for a line that is not in a
part, and a part is never visible before the state knows it: a follower killed at any
moment loses its open part's temp file and, restarted with the same --state, polls that
span again. Decision: a part may pass --part-size by one poll's lines (a part closes on a
poll's boundary, where the state is whole).
"""

from __future__ import annotations

from collections.abc import Callable

from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.output.parts import (
    PartInfo,
    PartsLayout,
    PartWriter,
    directory_lock,
    remove_temps,
    scan,
)
from trailsweep.settings.config import SweepSettings


class FollowParts:
    """The parts a follower writes: `write(data)` each poll's lines, `flush()` at each
    poll's end (closes the part when due), `close()` when it stops, `release()` last."""

    def __init__(
        self, settings: SweepSettings, *, commit: Callable[[PartInfo], None],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:  # fmt: skip
        directory = settings.output_dir
        assert directory is not None
        self.lock = directory_lock(directory)  # the one a sweep into it takes too
        self.lock.acquire()
        remove_temps(directory)  # a killed follower's open part: its polls come again
        highest, floor = scan(directory)
        layout = PartsLayout(
            directory, size=settings.part_size, age=settings.part_age,
            compress=settings.compress, mode=settings.file_mode,
        )  # fmt: skip
        self.clock = clock
        self.writer = PartWriter(
            layout, commit=commit, clock=clock, number=highest + 1, floor=floor
        )

    def write(self, data: bytes) -> None:
        if data:
            self.writer.write(data, data.count(b"\n"), None, None)

    def flush(self) -> None:
        """A poll ended: close the open part if it is full or old enough."""
        writer, layout = self.writer, self.writer.layout
        opened = writer.opened
        if opened is None:
            return
        old = layout.age is not None and self.clock.monotonic() - opened >= layout.age
        if writer.used >= layout.size or old:
            writer.close_part()

    def close(self) -> None:
        """The follower stopped: close the open part (its commit saves the state)."""
        if self.writer.broken:
            self.writer.discard()
        else:
            self.writer.close_part()

    def release(self) -> None:
        self.writer.discard()
        self.lock.release()
