"""Newest-first merge of many paged streams, holding at most a few pages per stream.

`merge_sorted` is a k-way heap merge over sources that yield *batches* (pages) already in
key order. Heap entries are ``(key, source index, position)``, so items are never
compared, and a source is asked for its next batch only when its current one is used up
and its next head is needed: the merge holds one batch per source.

`prefetched` runs a source ahead in a task of the caller's task group, through a memory
stream of `depth` batches: the merge rarely waits on the network, while a source far
ahead of the merge point blocks on the full stream instead of buffering without bound
(docs/design.md invariant 4). `interleave` is the unordered variant for ``--unordered``.

Each pump ends its stream with a `_Done` marker carrying the source's exception, if any,
so a consumer tells "the source ended" from "its task was cancelled" (a stream that closes
without the marker raises instead of looking like a short source). The caller owns the
sources given to `merge_sorted`; `prefetched` and `interleave` close theirs.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing, asynccontextmanager
from typing import Any, Protocol, TypeAlias, TypeVar

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream

T = TypeVar("T")


class _Comparable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=_Comparable)


async def merge_sorted(
    sources: Sequence[AsyncIterator[Sequence[T]]], key: Callable[[T], K]
) -> AsyncGenerator[T, None]:
    """Every item of every source once, in ascending key order (keys unique across sources).

    Empty batches are skipped; an exception from a source comes out of the merge."""
    batches: list[Sequence[T]] = [() for _ in sources]
    heap: list[tuple[K, int, int]] = []

    async def pull(i: int) -> None:
        async for batch in sources[i]:
            if batch:
                batches[i] = batch
                heapq.heappush(heap, (key(batch[0]), i, 0))
                return

    for i in range(len(sources)):
        await pull(i)
    while heap:
        _, i, j = heapq.heappop(heap)
        batch = batches[i]
        yield batch[j]
        j += 1
        # A run: while this batch's next item still comes before every other head, yield
        # it without a trip through the heap (busy pairs make long runs).
        while j < len(batch):
            k = key(batch[j])
            if heap and not k < heap[0][0]:
                heapq.heappush(heap, (k, i, j))
                break
            yield batch[j]
            j += 1
        else:
            batches[i] = ()  # let the used-up page go before fetching the next
            await pull(i)


async def merge_chunks(
    sources: Sequence[AsyncIterator[Sequence[T]]], key: Callable[[T], K]
) -> AsyncGenerator[list[T], None]:
    """`merge_sorted`, in chunks: lists whose concatenation is exactly what `merge_sorted`
    yields, for a fraction of its CPU per item (one generator step per chunk, C-level
    bisect and sort instead of a heap operation or key call per item in Python).

    Nothing of a source comes after its current batch, so everything up to the smallest
    last key of the current batches is final: each chunk is that prefix of every batch,
    merged; the source(s) whose batch it used up are then asked for their next batch (as
    in `merge_sorted`, only when used up, and in source order). Holds one batch per
    source, like `merge_sorted`."""
    batches: list[Sequence[T]] = [() for _ in sources]
    starts = [0] * len(sources)
    live: list[int] = []

    async def pull(i: int) -> None:
        async for batch in sources[i]:
            if batch:
                batches[i], starts[i] = batch, 0
                return
        batches[i] = ()

    for i in range(len(sources)):
        await pull(i)
        if batches[i]:
            live.append(i)
    while live:
        bound = min([key(batches[i][-1]) for i in live])
        parts: list[Sequence[T]] = []
        used: list[int] = []
        for i in live:
            batch, start = batches[i], starts[i]
            end = bisect_right(batch, bound, start, key=key)
            if end > start:
                parts.append(batch if start == 0 and end == len(batch) else batch[start:end])
            if end == len(batch):
                used.append(i)
                batches[i] = ()  # let the used-up page go before fetching the next
            else:
                starts[i] = end
        if not parts:
            # Only a batch out of key order leaves the bound short of its own last item;
            # looping on would spin forever (the pagers refuse such pages: page_check.py).
            raise ValueError("merge_chunks: a source's batch is not in key order")
        if len(parts) == 1:
            yield list(parts[0])
        else:
            yield sorted([item for part in parts for item in part], key=key)
        for i in used:
            await pull(i)
        live = [i for i in live if batches[i]]


class _Done:
    """The last message of a pump: the source ended, cleanly or with `error`."""

    __slots__ = ("error",)

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error


_Message: TypeAlias = Sequence[T] | _Done
_STOPPED = "the task running a prefetched source stopped before the source ended"


async def _pump(
    source: AsyncIterator[Sequence[T]],
    out: MemoryObjectSendStream[_Message[T]],
    scope: anyio.CancelScope,
) -> None:
    """Send every batch of `source` to `out`, then a `_Done`; stop quietly when the
    consumer has gone away or `scope` is cancelled. Closes `source` and `out`."""
    with scope, out:
        try:
            done = _Done()
            while True:
                try:
                    batch = await anext(source)
                except StopAsyncIteration:
                    break
                except Exception as exc:  # handed to the consumer, raised where it reads
                    done = _Done(exc)
                    break
                await out.send(batch)
            await out.send(done)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the consumer went away
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()


def _unwrap(message: _Message[T]) -> Sequence[T] | None:
    """The batch in `message`, or None at a clean end; raises the source's error."""
    if isinstance(message, _Done):
        if message.error is not None:
            raise message.error
        return None
    return message


@asynccontextmanager
async def prefetched(
    source: AsyncIterator[Sequence[T]], depth: int, task_group: TaskGroup
) -> AsyncGenerator[AsyncIterator[Sequence[T]], None]:
    """`source`, run ahead by up to `depth` batches in a task of `task_group`.

    At most ``depth + 1`` batches are pulled ahead of the consumer (`depth` in the stream,
    one waiting to go in). Leaving the block cancels the task and closes `source`."""
    if depth < 0:
        raise ValueError(f"depth must be 0 or more, not {depth}")
    send, receive = anyio.create_memory_object_stream[_Message[T]](depth)
    scope = anyio.CancelScope()

    async def drain() -> AsyncGenerator[Sequence[T], None]:
        with receive:
            async for message in receive:
                batch = _unwrap(message)
                if batch is None:
                    return
                yield batch
        raise RuntimeError(_STOPPED)

    stream = drain()
    try:
        task_group.start_soon(_pump, source, send, scope)
        yield stream
    finally:
        scope.cancel()
        await stream.aclose()
        receive.close()
        send.close()


async def interleave(
    sources: Sequence[AsyncIterator[Sequence[T]]], task_group: TaskGroup
) -> AsyncGenerator[T, None]:
    """Every item of every source, batch by batch as the batches arrive (order holds only
    within a source): `interleave_batches`, one item at a time."""
    async with aclosing(interleave_batches(sources, task_group)) as batches:
        async for batch in batches:
            for item in batch:
                yield item


async def interleave_batches(
    sources: Sequence[AsyncIterator[Sequence[T]]], task_group: TaskGroup
) -> AsyncGenerator[Sequence[T], None]:
    """The batches of every source as they arrive (order holds only within a source).
    Each source runs in a task of `task_group`; a source that is ahead waits while its
    batch is in the unbuffered hand-over, so memory stays bounded.
    Ending early (or an error) cancels those tasks and closes the sources."""
    send, receive = anyio.create_memory_object_stream[_Message[T]](0)
    scopes = [anyio.CancelScope() for _ in sources]
    remaining = len(sources)
    try:
        with send, receive:
            for source, scope in zip(sources, scopes, strict=True):
                task_group.start_soon(_pump, source, send.clone(), scope)
            while remaining:
                try:
                    batch = _unwrap(await receive.receive())
                except anyio.EndOfStream:
                    raise RuntimeError(_STOPPED) from None
                if batch is None:
                    remaining -= 1
                    continue
                yield batch
    finally:
        for scope in scopes:
            scope.cancel()
