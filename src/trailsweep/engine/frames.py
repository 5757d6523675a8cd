"""What a worker process (engine/worker_main.py) tells the sweep that started it
(engine/workers.py), over its stdout: frames, each a fixed header, a JSON document and a
blob of bytes.

    header  struct "<II": the JSON's length, the blob's length
    JSON    {"e": [[time, pair, seq, page, index, event id], ...],   the events, in order
             "g": [[end, token], ...],                               their pages
             "s": [[pair, state, events, calls, throttled, retries, error, rate, latency]],
             "end": {...}}                                           only in the last frame
    blob    the events' NDJSON lines, one each, in the same order; or, in a last frame
            that carries an error, the pickled exception

`pair` is the index of the pair in the list the worker was given. The job itself (the
settings, the pairs with their cursors) goes the other way, on the worker's stdin, as one
pickled `Job` after its length: both ends are this package, in processes of one user.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from typing import Any

import orjson

from trailsweep.engine.pair import PairState
from trailsweep.settings.config import SweepSettings

HEADER = struct.Struct("<II")
LENGTH = struct.Struct("<Q")


@dataclass(slots=True)
class Job:
    """What one worker sweeps: the settings (the pinned question), its pairs (cursors,
    incremental windows), each pair's read-ahead, and the log levels to keep."""

    config: SweepSettings
    pairs: list[PairState]
    depth: int
    log_levels: dict[str, int]

    def dumps(self) -> bytes:
        body = pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
        return LENGTH.pack(len(body)) + body


def stats(index: int, pair: PairState) -> list[Any]:
    """What the sweep keeps of a pair that the worker knows: its "s" row."""
    return [
        index, pair.state, pair.events, pair.calls, pair.throttled, pair.retries,
        pair.error, pair.rate, pair.latency,
    ]  # fmt: skip


def apply_stats(pairs: list[PairState], rows: list[list[Any]]) -> None:
    """The "s" rows of a frame, onto the sweep's own pairs (its cursors are its own)."""
    for index, state, events, calls, throttled, retries, error, rate, latency in rows:
        pair = pairs[index]
        pair.state, pair.events, pair.calls = state, events, calls
        pair.throttled, pair.retries, pair.error = throttled, retries, error
        pair.rate, pair.latency = rate, latency


def frame(doc: dict[str, Any], blob: bytes) -> bytes:
    text = orjson.dumps(doc)
    return HEADER.pack(len(text), len(blob)) + text + blob
