"""`--workers N|auto`: how many processes sweep the pairs of one run.

Decision: `auto` (the CLI's default) runs one process per `PAIRS_PER_WORKER` pairs to
sweep, up to the cores this process may use. A pair busy at the real quota yields about
100 events a second (2 calls of 50), which costs a core about 0.2% (some 20 us an
event), so one process keeps up with a few hundred busy pairs; below that a second
process only adds its start-up (a second or so of CPU, its own sessions and role
assumptions) and takes nothing off the one core that keeps up. A number is taken as
given (at most one process per pair): `--workers 1` is the single process. The library's
default (`SweepSettings.workers`) is 1: a program opts in.
"""

from __future__ import annotations

import os

from trailsweep.base.errors import InputError

MAX_WORKERS = 256
PAIRS_PER_WORKER = 250


def parse_workers(value: str | int | None) -> int | None:
    """The number of processes asked for; None for `auto`."""
    if value is None:
        return 1
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return None
        if not text.isdigit():
            raise InputError(
                f"--workers: {value!r} is not a number of processes; give 1 to "
                f"{MAX_WORKERS}, or 'auto' for one per {PAIRS_PER_WORKER} pairs up to the cores"
            )
        value = int(text)
    if isinstance(value, bool) or not 1 <= value <= MAX_WORKERS:
        raise InputError(
            f"--workers: {value!r} is out of range; give 1 to {MAX_WORKERS}, or 'auto'"
        )
    return value


def available_cores() -> int:
    """The cores this process may run on (its affinity where the system says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def workers_for(asked: int | None, pairs: int, cores: int | None = None) -> int:
    """The processes a sweep of `pairs` pairs runs in: `asked` (None: auto), never more
    than one per pair."""
    if asked is None:
        cores = available_cores() if cores is None else cores
        asked = min(cores, -(-pairs // PAIRS_PER_WORKER))
    return max(1, min(asked, pairs))
