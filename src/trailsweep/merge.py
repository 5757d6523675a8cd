"""Newest-first merge of many paged streams, holding at most a few pages per stream.

`merge_sorted` is a k-way heap merge over sources that yield *batches* (pages) already in
key order; it asks a source for its next batch only when that source's head is needed.
`prefetched` runs a source ahead in a background task with a bounded buffer, so the merge
rarely waits on the network, while a source far ahead of the merge point blocks instead
of buffering without bound (DESIGN.md invariant 4).
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing, asynccontextmanager
from typing import Any, Generic, TypeVar

import anyio
from anyio.abc import TaskGroup

T = TypeVar("T")


async def merge_sorted(
    sources: Sequence[AsyncIterator[Sequence[T]]], key: Callable[[T], Any]
) -> AsyncIterator[T]:
    """Every item of every source once, in ascending key order (keys unique across sources)."""
    batches: list[Sequence[T]] = [() for _ in sources]
    heap: list[tuple[Any, int, int]] = []

    async def pull(i: int) -> None:
        async for batch in sources[i]:
            if batch:
                batches[i] = batch
                heapq.heappush(heap, (key(batch[0]), i, 0))
                return
        batches[i] = ()

    for i in range(len(sources)):
        await pull(i)
    while heap:
        _, i, j = heapq.heappop(heap)
        batch = batches[i]
        yield batch[j]
        j += 1
        # A run: while this batch's next item still comes before every other head, yield
        # it without a trip through the heap (busy pairs make long runs).
        while j < len(batch) and (not heap or key(batch[j]) < heap[0][0]):
            yield batch[j]
            j += 1
        if j < len(batch):
            heapq.heappush(heap, (key(batch[j]), i, j))
        else:
            await pull(i)


async def _pump(source: AsyncIterator[Sequence[T]], out: Any) -> None:
    """Send every batch of `source` to `out`, then close it; an exception is sent along
    (wrapped) for the consumer to raise; a consumer that went away just stops it."""
    async with out, aclosing(source) as src:  # type: ignore[type-var]
        try:
            async for batch in src:
                await out.send(batch)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return
        except Exception as exc:
            try:
                await out.send(_Failure(exc))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return


class _Failure(Generic[T]):
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


@asynccontextmanager
async def prefetched(
    source: AsyncIterator[Sequence[T]], depth: int, task_group: TaskGroup
) -> AsyncIterator[AsyncIterator[Sequence[T]]]:
    """`source`, run ahead by up to `depth` batches in a task of `task_group`."""
    send, receive = anyio.create_memory_object_stream[Sequence[T] | _Failure[T]](depth)

    async def consume() -> AsyncIterator[Sequence[T]]:
        async for item in receive:
            if isinstance(item, _Failure):
                raise item.error
            yield item

    task_group.start_soon(_pump, source, send)
    stream = consume()
    try:
        yield stream
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        receive.close()


async def interleave(
    sources: Sequence[AsyncIterator[Sequence[T]]], task_group: TaskGroup
) -> AsyncIterator[T]:
    """Every item of every source, batch by batch as the batches arrive (order holds only
    within a source). Each source runs in a task of `task_group`; a source that is ahead
    waits while its batch is in the unbuffered hand-over, so memory stays bounded."""
    send, receive = anyio.create_memory_object_stream[Sequence[T] | _Failure[T]](0)

    async with send:
        for source in sources:
            task_group.start_soon(_pump, source, send.clone())
    async with receive:
        async for item in receive:
            if isinstance(item, _Failure):
                raise item.error
            for element in item:
                yield element
