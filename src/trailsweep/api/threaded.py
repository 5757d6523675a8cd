"""`iter_events`: a sweep as a plain iterator, for scripts and notebooks.

The sweep runs on an event loop of its own, in a thread of its own (an anyio blocking
portal), so the iterator works the same in a script and inside an event loop that is
already running (a Jupyter cell, where `anyio.run` would refuse to start).

Decision: always on its own thread, even where no loop runs: one way of working, tested
in both places, and the thread costs a few milliseconds per sweep. The sweep's lists of
events cross over through a bounded memory stream (`buffer` lists): a consumer slower
than the sweep holds it back, as a slow file does a sink. Each call across takes every
list waiting, so the threads meet once per batch, not once per event. Breaking out of
the loop, or `close()`, cancels the sweep (as Ctrl-C does the CLI's) and joins its thread.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from types import TracebackType

import anyio
from anyio.from_thread import start_blocking_portal

from trailsweep.api.stream import batches, refuse_runs, unwrapped
from trailsweep.base.clock import SYSTEM_CLOCK, Clock
from trailsweep.engine.pair import SweepEvent
from trailsweep.engine.sweep import SweepReport
from trailsweep.settings.config import SweepSettings

Batch = Sequence[SweepEvent]


class SweepIterator:
    """The events of a sweep as a plain iterator, and its report::

        with trailsweep.iter_events(settings) as events:  # a SweepIterator
            for event in events:
                print(event.account, event.name)
        print(events.report.as_dict())

    `report` is live while it runs (it counts the events yielded) and final after.
    Leaving the `with` block (or `close()`, or dropping the iterator) stops the sweep."""

    __slots__ = ("_events", "report")

    def __init__(self, settings: SweepSettings, *, clock: Clock, buffer: int) -> None:
        self.report = SweepReport()
        self._events = _run(_Feed(settings, self.report, clock, buffer))

    def __iter__(self) -> SweepIterator:
        return self

    def __next__(self) -> SweepEvent:
        return next(self._events)

    def close(self) -> None:
        """Stop the sweep (if it runs) and wait for its thread to end."""
        self._events.close()

    def __enter__(self) -> SweepIterator:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def iter_events(
    settings: SweepSettings, *, clock: Clock = SYSTEM_CLOCK, buffer: int = 16
) -> SweepIterator:
    """Run a sweep on its own thread; iterate over its events (no `async` needed)::

        settings = trailsweep.SweepSettings.build(accounts="org", start_time="1d")
        for event in trailsweep.iter_events(settings):
            print(event.time, event.account, event.region, event.name)

    The same events, in the same order, as `open_sweep` yields; it works inside a running
    event loop too (a Jupyter cell). `buffer`: how many lists of events may wait for the
    consumer before the sweep waits for it."""
    if buffer < 1:
        raise ValueError("buffer must be at least 1")
    refuse_runs(settings, "iter_events")
    return SweepIterator(settings, clock=clock, buffer=buffer)


class _Feed:
    """The sweep's side: runs it on the portal's loop and sends its lists of events."""

    __slots__ = ("clock", "receive", "report", "scope", "send", "settings", "stopped")

    def __init__(self, settings: SweepSettings, report: SweepReport, clock: Clock, size: int):
        self.settings, self.report, self.clock = settings, report, clock
        self.send, self.receive = anyio.create_memory_object_stream[Batch](size)
        self.scope: anyio.CancelScope | None = None  # made on the portal's loop
        self.stopped = False

    async def produce(self) -> None:
        if self.stopped:  # stopped before it began (both run on the portal's loop)
            self.send.close()
            return
        self.scope = anyio.CancelScope()
        async with self.send, batches(self.settings, self.report, self.clock) as chunks:
            with self.scope:
                while True:
                    with unwrapped():
                        try:
                            chunk = await anext(chunks)
                        except StopAsyncIteration:
                            return
                    await self.send.send(chunk)

    async def take(self) -> list[Batch] | None:
        """Every list waiting (at least one); None once the sweep has ended."""
        try:
            taken = [await self.receive.receive()]
        except anyio.EndOfStream:
            return None
        while True:
            try:
                taken.append(self.receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream):
                return taken

    def stop(self) -> None:
        self.stopped = True
        if self.scope is not None:
            self.scope.cancel()


def _run(feed: _Feed) -> Generator[SweepEvent, None, None]:
    with start_blocking_portal(name="trailsweep-iter-events") as portal:
        ended = portal.start_task_soon(feed.produce)
        try:
            while (taken := portal.call(feed.take)) is not None:
                for chunk in taken:
                    for event in chunk:
                        event.pair.cursor.advance(event)  # counted as it is handed over
                        yield event
        finally:
            portal.call(feed.stop)  # a no-op once it ended
            error = ended.exception()  # waits for the sweep to wind down
        if error is not None:
            raise error  # why it failed, as the sweep raised it
