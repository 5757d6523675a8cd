"""A worker process of a sweep run in several (`--workers`; engine/workers.py starts it as
`python -m trailsweep.engine.worker_main`).

It reads its `frames.Job` from stdin, sweeps those pairs as a one-process sweep does
(`sweep.sweep_chunks` with the pairs given: their cursors and incremental windows), makes
each event's NDJSON line here, and writes frames to stdout (frames.py). It keeps nothing
of its own: the sweep that started it writes the lines, advances the cursors and saves
the checkpoints.

It ignores SIGINT and SIGTERM: Ctrl-C reaches the whole process group, and the sweep
that started it decides how to stop (it saves the checkpoint, then closes this worker's
stdin). When stdin closes, because the sweep is done with it or has died, the worker
exits at once, so none outlives its sweep.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Iterable
from contextlib import aclosing, suppress
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from trailsweep.base.collector import tune_for_sweeping
from trailsweep.engine.frames import LENGTH, Job, frame, stats
from trailsweep.engine.pair import PairState, SweepEvent, lines
from trailsweep.engine.sweep import SweepReport, sweep_chunks

# Events per frame at most, and how often a worker with nothing to send says how its
# pairs are doing (calls, throttles: the progress line and summary read them).
FRAME_EVENTS = 2000
IDLE_STATS = 0.5


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stdin = sys.stdin.buffer
    size = LENGTH.unpack(stdin.read(LENGTH.size))[0]
    job: Job = pickle.loads(stdin.read(size))  # noqa: S301 - from the sweep that started it
    threading.Thread(target=_exit_when_closed, args=(stdin,), daemon=True).start()
    _logging(job.log_levels)
    tune_for_sweeping()  # this process is the sweep's: base/collector.py
    try:
        anyio.run(_serve, job)
    except BaseException as exc:
        sys.stderr.write(f"trailsweep: worker {os.getpid()} stopped: {exc!r}\n")
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


def _exit_when_closed(stdin: Any) -> None:
    while stdin.read(65536):
        pass
    os._exit(0)


def _logging(levels: dict[str, int]) -> None:
    """The sweep's log levels, on stderr as its own lines are (cli/logs.py)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("trailsweep: %(message)s"))
    for name, level in levels.items():
        log = logging.getLogger(name)
        log.setLevel(level)
        log.addHandler(handler)
        log.propagate = False


async def _serve(job: Job) -> None:
    writer = await _stdout()
    report = SweepReport()
    send, receive = anyio.create_memory_object_stream[list[SweepEvent] | BaseException](16)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_produce, job, report, send)
        await _ship(job, report, receive, writer)
    # `drain` waits only above the transport's high-water mark: the last frames may still
    # be in its buffer, and the process ends with os._exit. With the mark at 0 it waits
    # until the buffer is empty.
    writer.transport.set_write_buffer_limits(high=0)
    await writer.drain()


async def _stdout() -> asyncio.StreamWriter:
    """stdout as a stream with flow control: a write waits while the pipe is full rather
    than blocking the event loop (the pagers' calls and timers go on)."""
    loop = asyncio.get_running_loop()
    _widen(sys.stdout.fileno())
    pipe = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, pipe)
    return asyncio.StreamWriter(transport, protocol, None, loop)


# A pipe holds 64 KiB by default, a few dozen events: the sweep reading it would wake and
# read that often. Linux lets a pipe grow to /proc/sys/fs/pipe-max-size (1 MiB unless
# raised); where it cannot, the default stays (nothing else depends on the size).
_PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def _widen(fd: int) -> None:
    with suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_SIZE)


async def _produce(
    job: Job, report: SweepReport, send: MemoryObjectSendStream[list[SweepEvent] | BaseException]
) -> None:
    with send:
        try:
            chunks = sweep_chunks(job.config, report=report, pairs=job.pairs, prefetch=job.depth)
            async with aclosing(chunks) as stream:
                async for chunk in stream:
                    await send.send(list(chunk))
        except Exception as exc:  # handed to _ship, which sends it on
            await send.send(exc)


async def _ship(
    job: Job,
    report: SweepReport,
    receive: MemoryObjectReceiveStream[list[SweepEvent] | BaseException],
    writer: asyncio.StreamWriter,
) -> None:
    index = {id(pair): i for i, pair in enumerate(job.pairs)}
    sent: dict[int, list[Any]] = {}
    last = time.monotonic()
    with receive:
        while True:
            chunks: list[list[SweepEvent]] = []
            error: BaseException | None = None
            ended = False
            with anyio.move_on_after(IDLE_STATS):
                got = await _next(receive)
                ended, error = got is None, got if isinstance(got, BaseException) else None
                if isinstance(got, list):
                    chunks.append(got)
            while not ended and error is None and sum(map(len, chunks)) < FRAME_EVENTS:
                try:
                    got = receive.receive_nowait()
                except anyio.WouldBlock:
                    break
                except anyio.EndOfStream:
                    ended = True
                    break
                if isinstance(got, BaseException):
                    error = got
                else:
                    chunks.append(got)
            now = time.monotonic()
            every = ended or error is not None or now - last >= IDLE_STATS
            if every:
                last = now
            doc, blob = _events(chunks, index, job.config.raw)
            doc["s"] = _changed(job.pairs, sent, chunks, index, every=every)
            if ended or error is not None:
                doc["end"], extra = _end(report, error)
                blob += extra
            if doc["e"] or doc["s"] or "end" in doc:
                writer.write(frame(doc, blob))
                await writer.drain()
            if ended or error is not None:
                return


async def _next(
    receive: MemoryObjectReceiveStream[list[SweepEvent] | BaseException],
) -> list[SweepEvent] | BaseException | None:
    try:
        return await receive.receive()
    except anyio.EndOfStream:
        return None


def _events(
    chunks: list[list[SweepEvent]], index: dict[int, int], raw: bool
) -> tuple[dict[str, Any], bytes]:
    rows: list[list[Any]] = []
    pages: dict[int, int] = {}
    refs: list[list[Any]] = []
    for chunk in chunks:
        for event in chunk:
            page = event.page
            ref = pages.get(id(page))
            if ref is None:
                ref = pages[id(page)] = len(refs)
                refs.append([page.end, page.token])
            key = event.key
            rows.append(
                [key[0], index[id(event.pair)], key[3], ref, event.index,
                 str(event.event.get("EventId", ""))]
            )  # fmt: skip
    blob = b"".join(lines(chunk, raw=raw) for chunk in chunks)
    return {"e": rows, "g": refs}, blob


def _changed(
    pairs: list[PairState], sent: dict[int, list[Any]], chunks: list[list[SweepEvent]],
    index: dict[int, int], *, every: bool,
) -> list[list[Any]]:  # fmt: skip
    """The "s" rows that changed since last sent: of every pair when `every`, else of the
    pairs these chunks hold events of."""
    which: Iterable[int]
    if every:
        which = range(len(pairs))
    else:
        which = sorted({index[id(event.pair)] for chunk in chunks for event in chunk})
    rows = []
    for i in which:
        row = stats(i, pairs[i])
        if sent.get(i) != row:
            sent[i] = row
            rows.append(row)
    return rows


def _end(report: SweepReport, error: BaseException | None) -> tuple[dict[str, Any], bytes]:
    end: dict[str, Any] = {"spooled": report.spooled}
    seen = report.where_seen
    if seen is not None:
        end["missing"] = [list(path) for path in seen.missing]
        end["records"] = seen.records
    if error is None:
        return end, b""
    end["error"] = True
    try:
        return end, pickle.dumps(error)
    except Exception:
        return end, pickle.dumps(RuntimeError(repr(error)))


if __name__ == "__main__":
    main()
