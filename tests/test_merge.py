"""The newest-first merge: complete, ordered, lazy, and bounded when prefetched."""

from __future__ import annotations

import gc
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailsweep.engine.merge import interleave, merge_chunks, merge_sorted, prefetched

Item = tuple[int, int, int]  # (key part, source, position): unique across sources


class Source:
    """One paged source with a record of what was pulled from it and whether it closed."""

    def __init__(self, batches: list[list[Item]]) -> None:
        self.batches = batches
        self.pulled = 0  # batches handed out, empty ones included
        self.pulled_items = 0
        self.closed = False

    async def pages(self) -> AsyncIterator[list[Item]]:
        try:
            for batch in self.batches:
                self.pulled += 1
                self.pulled_items += len(batch)
                yield batch
                await anyio.lowlevel.checkpoint()
        finally:
            self.closed = True

    def items(self) -> list[Item]:
        return [item for batch in self.batches for item in batch]


def make_sources(shapes: list[list[list[int]]]) -> list[Source]:
    """Each source's values sorted, then cut into batches of the drawn sizes (some empty)."""
    sources = []
    for s, batches in enumerate(shapes):
        values = sorted(v for batch in batches for v in batch)
        items = [(v, s, i) for i, v in enumerate(values)]
        cut, start = [], 0
        for batch in batches:
            cut.append(items[start : start + len(batch)])
            start += len(batch)
        sources.append(Source(cut))
    return sources


def everything(sources: list[Source]) -> list[Item]:
    return sorted(item for source in sources for item in source.items())


shapes = st.lists(
    st.lists(st.lists(st.integers(-50, 50), max_size=6), max_size=8), min_size=1, max_size=8
)


@contextmanager
def no_warnings() -> Iterator[None]:
    """Fail on any warning, including unclosed streams and coroutines never awaited."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    assert [str(w.message) for w in caught] == []


@settings(max_examples=100, deadline=None)
@given(shapes=shapes)
def test_merge_yields_everything_in_key_order_holding_one_batch_per_source(
    shapes: list[list[list[int]]],
) -> None:
    """Any sources, any batch sizes (empty ones too): the merge is the sorted union, each
    item once, and no source has been read past the batch its next item is in."""
    sources = make_sources(shapes)

    async def run() -> list[Item]:
        got: list[Item] = []
        yielded = [0] * len(sources)
        async for item in merge_sorted([s.pages() for s in sources], key=lambda x: x):
            got.append(item)
            yielded[item[1]] += 1
            for s, source in enumerate(sources):
                # Items pulled but not yet yielded all lie in one batch: the current one.
                ahead = source.items()[yielded[s] : source.pulled_items]
                current = [b for b in source.batches[: source.pulled] if b][-1:]
                assert ahead == (current[0][len(current[0]) - len(ahead) :] if ahead else [])
        return got

    assert anyio.run(run) == everything(sources)


@pytest.mark.anyio
async def test_merge_pulls_one_batch_per_source_before_the_first_item() -> None:
    """Lazy: to yield its first item the merge has pulled one batch of each source."""
    sources = make_sources([[[0] * 5] * 4, [[0] * 5] * 4, [[0] * 5] * 4])
    merged = merge_sorted([s.pages() for s in sources], key=lambda x: x)
    assert await anext(merged) == (0, 0, 0)
    assert [s.pulled for s in sources] == [1, 1, 1]
    await merged.aclose()


@pytest.mark.anyio
async def test_items_are_never_compared() -> None:
    """Only keys are compared, so items without an order merge fine."""

    class Opaque:
        def __init__(self, k: int) -> None:
            self.k = k

    async def pages(keys: list[int]) -> AsyncIterator[list[Opaque]]:
        yield [Opaque(k) for k in keys]

    merged = merge_sorted([pages([1, 3]), pages([2, 4])], key=lambda o: o.k)
    assert [o.k async for o in merged] == [1, 2, 3, 4]


@pytest.mark.anyio
@pytest.mark.parametrize("first", [True, False])
async def test_a_failing_source_fails_the_merge(first: bool) -> None:
    """An exception in a source, on its first page or a later one, comes out of the merge."""

    async def bad() -> AsyncIterator[Sequence[Item]]:
        if not first:
            yield [(1, 0, 0)]
        raise RuntimeError("boom")

    async def good() -> AsyncIterator[Sequence[Item]]:
        yield [(0, 1, 0), (5, 1, 1)]

    got: list[Item] = []

    async def merge_all() -> None:
        async for item in merge_sorted([good(), bad()], key=lambda x: x):
            got.append(item)

    with pytest.raises(RuntimeError, match="boom"):
        await merge_all()
    assert got == ([] if first else [(0, 1, 0), (1, 0, 0)])


@pytest.mark.anyio
@pytest.mark.parametrize("depth", [0, 1, 2, 4])
async def test_prefetch_runs_ahead_by_depth_plus_one_batches_and_no_more(depth: int) -> None:
    """A fast source is pulled ahead of the batches the consumer asked for by up to
    depth + 1 (depth in the stream, one waiting to go in), never more."""
    asked = 0
    leads: list[int] = []

    async def fast() -> AsyncIterator[list[Item]]:
        for i in range(30):
            leads.append(i + 1 - asked)
            yield [(i, 0, 0)]

    async with anyio.create_task_group() as tg, prefetched(fast(), depth, tg) as stream:
        while asked < 20:
            asked += 1
            assert await anext(stream) == [(asked - 1, 0, 0)]
            for _ in range(10):  # give the pump every chance to run ahead
                await anyio.lowlevel.checkpoint()
    assert max(leads) == depth + 1


@settings(max_examples=40, deadline=None)
@given(shapes=shapes, depth=st.integers(0, 3))
def test_prefetched_merge_equals_sorted(shapes: list[list[list[int]]], depth: int) -> None:
    """Prefetch changes timing, never the result; every source is closed afterwards."""
    sources = make_sources(shapes)

    async def run() -> list[Item]:
        got: list[Item] = []
        async with AsyncExitStack() as stack, anyio.create_task_group() as tg:
            streams = [
                await stack.enter_async_context(prefetched(s.pages(), depth, tg)) for s in sources
            ]
            got.extend([item async for item in merge_sorted(streams, key=lambda x: x)])
        return got

    with no_warnings():
        assert anyio.run(run) == everything(sources)
    assert all(s.closed for s in sources)


@pytest.mark.anyio
async def test_prefetch_hands_source_errors_to_the_consumer() -> None:
    """An exception inside a prefetched source is raised where the consumer reads, after the
    batches before it."""

    async def bad() -> AsyncIterator[Sequence[Item]]:
        yield [(1, 0, 0)]
        raise ValueError("late")

    async with anyio.create_task_group() as tg, prefetched(bad(), 1, tg) as stream:
        assert await anext(stream) == [(1, 0, 0)]
        with pytest.raises(ValueError, match="late"):
            await anext(stream)


@pytest.mark.anyio
async def test_leaving_prefetch_early_stops_its_task_and_closes_the_source() -> None:
    """A source stuck on a slow call does not keep the task group open once the consumer
    has left: its task is cancelled and the source closed, with nothing left behind."""
    closed = anyio.Event()

    async def stuck() -> AsyncIterator[list[Item]]:
        try:
            yield [(0, 0, 0)]
            await anyio.sleep_forever()
            yield [(1, 0, 0)]
        finally:
            closed.set()

    waiting = Source([[(i, 1, 0)] for i in range(10)])
    with no_warnings(), anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            async with prefetched(stuck(), 2, tg) as stream:
                assert await anext(stream) == [(0, 0, 0)]
            pages = waiting.pages()  # held here, so only the pump can close it
            async with prefetched(pages, 0, tg) as stream:
                assert await anext(stream) == [(0, 1, 0)]
                for _ in range(5):  # let the pump stop at the source's next `yield`
                    await anyio.lowlevel.checkpoint()
            async with prefetched(Source([[(0, 0, 0)]]).pages(), 2, tg):
                pass  # never read
        assert closed.is_set()
        assert waiting.closed


@pytest.mark.anyio
async def test_a_cancelled_prefetch_task_is_an_error_not_a_short_source() -> None:
    """If the task running the source is cancelled from outside, the consumer gets an
    error instead of a stream that looks complete."""
    source = Source([[(i, 0, 0)] for i in range(10)])
    with no_warnings():
        async with anyio.create_task_group() as tg, prefetched(source.pages(), 1, tg) as stream:
            assert await anext(stream) == [(0, 0, 0)]
            with anyio.CancelScope(shield=True):
                tg.cancel_scope.cancel()
                with pytest.raises(RuntimeError, match="stopped before the source ended"):
                    async for _ in stream:
                        pass
    assert source.closed


@pytest.mark.anyio
async def test_interleave_yields_everything_keeping_each_source_in_order() -> None:
    """Unordered: every item once, each source's items in their own order."""
    sources = make_sources([[list(range(30))[i : i + 4] for i in range(0, 30, 4)], [[]], []])
    async with anyio.create_task_group() as tg:
        got = [x async for x in interleave([s.pages() for s in sources], tg)]
    assert sorted(got) == everything(sources)
    for s in range(len(sources)):
        assert [x for x in got if x[1] == s] == sources[s].items()


@pytest.mark.anyio
async def test_interleave_stops_its_sources_when_left_early_or_on_error() -> None:
    """Leaving early closes every source; a failing source's error comes out."""

    async def bad() -> AsyncIterator[list[Item]]:
        yield [(9, 2, 0)]
        raise ValueError("bad page")

    async def stuck() -> AsyncIterator[list[Item]]:
        await anyio.sleep_forever()
        yield []

    sources = [Source([[(i, s, 0)] for i in range(100)]) for s in range(2)]
    with no_warnings(), anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            merged = interleave([*(s.pages() for s in sources), stuck()], tg)
            assert len([await anext(merged) for _ in range(5)]) == 5
            await merged.aclose()
        assert all(s.closed for s in sources)
        async with anyio.create_task_group() as tg:
            with pytest.raises(ValueError, match="bad page"):
                async for _ in interleave([Source([[(0, 0, 0)]] * 50).pages(), bad()], tg):
                    pass


@settings(max_examples=100, deadline=None)
@given(shapes=shapes)
def test_merge_chunks_is_merge_sorted_in_lists_holding_one_batch_per_source(
    shapes: list[list[list[int]]],
) -> None:
    """The chunks, concatenated, are what merge_sorted yields; no chunk is empty; no source
    has been read past the batch its next item is in."""
    sources = make_sources(shapes)

    async def run() -> list[Item]:
        got: list[Item] = []
        yielded = [0] * len(sources)
        async for chunk in merge_chunks([s.pages() for s in sources], key=lambda x: x):
            assert chunk
            got.extend(chunk)
            for item in chunk:
                yielded[item[1]] += 1
            for s, source in enumerate(sources):
                ahead = source.items()[yielded[s] : source.pulled_items]
                current = [b for b in source.batches[: source.pulled] if b][-1:]
                assert ahead == (current[0][len(current[0]) - len(ahead) :] if ahead else [])
        return got

    assert anyio.run(run) == everything(sources)
    assert all(s.closed or not s.batches for s in sources)


@pytest.mark.anyio
async def test_merge_chunks_never_compares_items_and_passes_errors_on() -> None:
    class Opaque:
        def __init__(self, k: int) -> None:
            self.k = k

    async def pages(keys: list[list[int]], fail: bool = False) -> AsyncIterator[list[Opaque]]:
        for batch in keys:
            yield [Opaque(k) for k in batch]
        if fail:
            raise ValueError("late")

    merged = merge_chunks([pages([[1, 3], [5, 7]]), pages([[2, 4, 6]])], key=lambda o: o.k)
    assert [[o.k for o in chunk] async for chunk in merged] == [[1, 2, 3], [4, 5, 6], [7]]
    got: list[int] = []

    async def drain() -> None:
        async for chunk in merge_chunks([pages([[1, 3]], fail=True), pages([[2]])], lambda o: o.k):
            got.extend(o.k for o in chunk)

    with pytest.raises(ValueError, match="late"):
        await drain()
    assert got == [1, 2, 3]  # as merge_sorted: everything before the failing pull
