"""Run an emulator on its own event loop in a background thread.

Tests that drive the CLI in a subprocess, or the client with `anyio.run`, need a server
that keeps serving while they block; this is it. Anything that touches the emulator's
state goes through `call`, so it runs on the emulator's own loop thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from trailsweep.emulator.clock import REAL_CLOCK, Clock
from trailsweep.emulator.server import Emulator
from trailsweep.emulator.settings import EmulatorSettings
from trailsweep.emulator.tamper import Tamper

T = TypeVar("T")


class EmulatorThread:
    """``with EmulatorThread(settings) as emu:`` serves until the block ends."""

    def __init__(self, settings: EmulatorSettings | None = None, *, clock: Clock = REAL_CLOCK):
        self.emulator = Emulator(settings, clock=clock)
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._started: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, name="emulator", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with self.emulator:
                self._started.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if not self._started.done():
                self._started.set_exception(exc)
            raise

    def __enter__(self) -> EmulatorThread:
        self._thread.start()
        self._started.result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    @property
    def url(self) -> str:
        return self.emulator.url

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the emulator's loop thread and return its result."""

        async def run() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=60)

    def truth(self, account: str, region: str, **kwargs: Any) -> list[dict[str, Any]]:
        """`Emulator.truth` (keywords: start, end, attribute, insight, as_of, everything)."""
        return self.call(self.emulator.truth, account, region, **kwargs)

    def arrivals(self, account: str, region: str, **kwargs: Any) -> dict[str, int]:
        """`Emulator.arrivals`: EventId -> arrival time of each event `truth` names."""
        return self.call(self.emulator.arrivals, account, region, **kwargs)

    def advance(self, seconds: float) -> int:
        """Step the data clock `seconds` forward (dataclock.py); its new time."""
        return self.call(self.emulator.data_clock.advance, seconds)

    def set_now(self, epoch: float) -> int:
        """Step the data clock to `epoch` seconds (never backwards); its new time."""
        return self.call(self.emulator.data_clock.set, epoch)

    def set_speed(self, speed: float) -> None:
        """Run the data clock at `speed` data seconds per wall second (0: stepped only)."""
        self.call(self.emulator.data_clock.set_speed, speed)

    def stats(self) -> dict[str, Any]:
        return self.call(self.emulator.quota.as_dict)

    def set_faults(self, **changes: Any) -> None:
        self.call(self.emulator.faults.update, changes)

    def set_tamper(self, tamper: Tamper | None) -> None:
        """Answer requests with `tamper` (see tamper.py) from now on; None: honest again."""
        self.call(setattr, self.emulator, "tamper", tamper)
