"""A sweep in several processes (`--workers N`): each worker sweeps a share of the pairs
(engine/worker_main.py) and sends its events, already in order and already NDJSON, back
here, where they are merged as a one-process sweep merges its pairs' pages.

Everything that makes the output what it is stays in this process: the merge (the same
`merge.merge_chunks`, over the workers' ordered streams instead of the pairs' pages), the
cursors (advanced by whoever writes, from each event's page and position), the
checkpoint, the `--state` bookkeeping. So stdout, `--output` and its checkpoints are
byte for byte those of one process, and a resume may use another number of workers.
A pair lives in one worker, with its one limiter (docs/design.md invariant 2).

The pairs are dealt in contiguous runs of the sorted list, as even as counts go: an
account's regions stay together (a worker assumes each role it needs once) except where a
run boundary cuts an account in two. Each worker holds its own read-ahead and spool
budget (docs/design.md invariant 4 holds per process: memory grows with the workers, not
with the events).

A worker that ends before its last frame (killed, out of memory) stops the sweep with
`WorkerLost` (exit 1), never a hang. Not a failure of its pairs alone: the others would
go on writing older events, and the lost pairs' next events, swept again later, would
come after them out of order. Stopped as an interrupted sweep stops, the export's
checkpoint holds every pair where the merge left it, so the same command resumes it
byte for byte (with any number of workers).
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from typing import Any, Protocol

import anyio
import orjson
from anyio.abc import Process, TaskGroup
from anyio.streams.buffered import BufferedByteReceiveStream

from trailsweep.base.errors import WorkerLost
from trailsweep.engine.frames import HEADER, Job, apply_stats
from trailsweep.engine.merge import prefetched
from trailsweep.engine.pair import PageRef, PairState, ShippedEvent, SweepEvent
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.filters import PathsSeen


class SweepTotals(Protocol):
    """What the workers add to the sweep's report (`sweep.SweepReport` is one)."""

    spooled: int
    where_seen: PathsSeen | None


# Frames each worker's stream may hold ready here beyond the merge's current one.
FRAMES_AHEAD = 4
_LOGGERS = ("trailsweep", "trailsweep.calls")


def split(pairs: list[PairState], workers: int) -> list[list[PairState]]:
    """`pairs` in `workers` contiguous runs whose sizes differ by one at most."""
    size, extra = divmod(len(pairs), workers)
    out, at = [], 0
    for k in range(workers):
        n = size + (k < extra)
        out.append(pairs[at : at + n])
        at += n
    return [group for group in out if group]


@asynccontextmanager
async def worker_sources(
    config: SweepSettings, groups: list[list[PairState]], depth: int, tg: TaskGroup,
    report: SweepTotals,
) -> AsyncGenerator[list[AsyncIterator[Sequence[SweepEvent]]], None]:  # fmt: skip
    """One ordered stream of events per group of pairs, each swept by a worker process.
    Leaving the block ends the workers (their stdin closed, then killed)."""
    job_config = replace(config, workers=1)
    levels = {name: logging.getLogger(name).getEffectiveLevel() for name in _LOGGERS}
    async with AsyncExitStack() as stack:
        sources = []
        for group in groups:
            proc = await _start(stack)
            assert proc.stdin is not None
            await proc.stdin.send(Job(job_config, group, depth, levels).dumps())
            frames = _frames(proc, group, report)
            sources.append(await stack.enter_async_context(prefetched(frames, FRAMES_AHEAD, tg)))
        yield sources


async def _start(stack: AsyncExitStack) -> Process:
    command = [sys.executable, "-m", "trailsweep.engine.worker_main"]
    proc = await anyio.open_process(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None
    )

    async def end() -> None:
        with anyio.CancelScope(shield=True):
            if proc.stdin is not None:
                await proc.stdin.aclose()  # the worker exits when its stdin closes
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            await proc.aclose()

    stack.push_async_callback(end)
    return proc


async def _frames(
    proc: Process, pairs: list[PairState], report: SweepTotals
) -> AsyncGenerator[list[SweepEvent], None]:
    """The worker's events, a frame's worth at a time, as `ShippedEvent`s of `pairs`."""
    assert proc.stdout is not None
    stream = BufferedByteReceiveStream(proc.stdout)
    while True:
        try:
            head = await stream.receive_exactly(HEADER.size)
            size, blob_size = HEADER.unpack(head)
            doc: dict[str, Any] = _loads(await stream.receive_exactly(size))
            blob = await stream.receive_exactly(blob_size) if blob_size else b""
        except (anyio.IncompleteRead, anyio.EndOfStream):
            await _lost(proc)
        apply_stats(pairs, doc.get("s") or [])
        if doc["e"]:
            yield _events(doc, blob, pairs)
        end = doc.get("end")
        if end is not None:
            _ended(end, blob, report)
            return


def _loads(data: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(data)
    return doc


def _events(doc: dict[str, Any], blob: bytes, pairs: list[PairState]) -> list[SweepEvent]:
    pages = [PageRef(token, end) for end, token in doc["g"]]
    rows = doc["e"]
    texts = blob.splitlines(keepends=True)
    out: list[SweepEvent] = []
    append = out.append
    for (when, p, seq, g, index, event_id), text in zip(rows, texts, strict=True):
        pair = pairs[p]
        key = (when, pair.account, pair.region, seq)
        event = {"EventId": event_id, "EventTime": -when}
        append(ShippedEvent(key, pair, event, pages[g], index, text))
    return out


def _ended(end: dict[str, Any], blob: bytes, report: SweepTotals) -> None:
    """The worker's last frame: what its sweep knew beyond its pairs; its error, raised."""
    report.spooled += int(end.get("spooled", 0))
    seen = report.where_seen
    if seen is not None and "missing" in end:
        still = {tuple(path) for path in end["missing"]}
        for path in [p for p in seen.missing if p not in still]:
            del seen.missing[path]
        seen.records += int(end.get("records", 0))
    if end.get("error"):
        error = pickle.loads(blob)  # noqa: S301 - from the worker this process started
        raise error if isinstance(error, BaseException) else RuntimeError(repr(error))


async def _lost(proc: Process) -> None:
    code = await proc.wait()
    raise WorkerLost(
        f"worker process {proc.pid} of the sweep ended (exit code {code}) before its pairs "
        "were done; the sweep stopped"
    )
