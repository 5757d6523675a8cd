"""The newest-first merge: complete, ordered, lazy, and bounded when prefetched."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailsweep.merge import interleave, merge_sorted, prefetched

Item = tuple[int, int, int]  # (key part, source, position)


def _sources(data: list[list[int]], cuts: list[int]) -> list[list[list[Item]]]:
    """Each source's sorted items, cut into batches of the given sizes."""
    out = []
    for s, values in enumerate(data):
        items = [(v, s, i) for i, v in enumerate(sorted(values))]
        size = max(1, cuts[s % len(cuts)])
        out.append([items[i : i + size] for i in range(0, len(items), size)])
    return out


async def _gen(batches: list[list[Item]], pulled: list[int], s: int) -> AsyncIterator[list[Item]]:
    for batch in batches:
        pulled[s] += 1
        yield batch
        await anyio.lowlevel.checkpoint()


@settings(max_examples=80, deadline=None)
@given(
    data=st.lists(st.lists(st.integers(-50, 50), max_size=30), min_size=1, max_size=8),
    cuts=st.lists(st.integers(1, 7), min_size=1, max_size=8),
)
def test_merge_yields_everything_in_key_order(data: list[list[int]], cuts: list[int]) -> None:
    """Any sources, any batch sizes: the merge is the sorted union, each item once."""
    batches = _sources(data, cuts)

    async def run() -> list[Item]:
        pulled = [0] * len(batches)
        gens = [_gen(b, pulled, s) for s, b in enumerate(batches)]
        return [item async for item in merge_sorted(gens, key=lambda x: x)]

    got = anyio.run(run)
    assert got == sorted(item for source in batches for batch in source for item in batch)


@pytest.mark.anyio
async def test_merge_pulls_one_batch_per_source_before_the_first_item() -> None:
    """Lazy: to yield its first item the merge holds at most one batch of each source."""
    batches = _sources([list(range(20)), list(range(20))], [5])
    pulled = [0, 0]
    merged = merge_sorted([_gen(b, pulled, s) for s, b in enumerate(batches)], key=lambda x: x)
    first = await merged.__anext__()  # type: ignore[attr-defined]
    assert first == (0, 0, 0)
    assert pulled == [1, 1]
    await merged.aclose()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_a_failing_source_fails_the_merge() -> None:
    """An exception in a source comes out of the merge."""

    async def bad() -> AsyncIterator[Sequence[Item]]:
        yield [(1, 0, 0)]
        raise RuntimeError("boom")

    async def good() -> AsyncIterator[Sequence[Item]]:
        yield [(0, 1, 0), (5, 1, 1)]

    with pytest.raises(RuntimeError, match="boom"):
        async for _ in merge_sorted([bad(), good()], key=lambda x: x):
            pass


@pytest.mark.anyio
async def test_prefetch_runs_ahead_but_stays_bounded() -> None:
    """A prefetched source is pulled ahead of the consumer by at most depth + 1 batches."""
    batches = [[(i, 0, 0)] for i in range(50)]
    pulled = [0]
    async with anyio.create_task_group() as tg:
        async with prefetched(_gen(batches, pulled, 0), 2, tg) as stream:
            consumed = 0
            async for _ in stream:
                consumed += 1
                for _ in range(5):  # give the pump every chance to run ahead
                    await anyio.lowlevel.checkpoint()
                assert pulled[0] - consumed <= 2 + 1
                if consumed == 10:
                    break
        tg.cancel_scope.cancel()
    assert consumed == 10


@settings(max_examples=30, deadline=None)
@given(data=st.lists(st.lists(st.integers(0, 99), max_size=25), min_size=1, max_size=6))
def test_prefetched_merge_equals_sorted(data: list[list[int]]) -> None:
    """Prefetch changes timing, never the result."""
    batches = _sources(data, [3])

    async def run() -> list[Item]:
        pulled = [0] * len(batches)
        async with AsyncExitStack() as stack, anyio.create_task_group() as tg:
            streams = [
                await stack.enter_async_context(prefetched(_gen(b, pulled, s), 0, tg))
                for s, b in enumerate(batches)
            ]
            return [item async for item in merge_sorted(streams, key=lambda x: x)]

    assert anyio.run(run) == sorted(i for source in batches for batch in source for i in batch)


@pytest.mark.anyio
async def test_prefetch_hands_source_errors_to_the_consumer() -> None:
    """An exception inside a prefetched source is raised where the consumer reads."""

    async def bad() -> AsyncIterator[Sequence[Item]]:
        yield [(1, 0, 0)]
        raise ValueError("late")

    async with anyio.create_task_group() as tg, prefetched(bad(), 1, tg) as stream:
        assert await stream.__anext__() == [(1, 0, 0)]  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="late"):
            await stream.__anext__()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_interleave_yields_everything_keeping_each_source_in_order() -> None:
    """Unordered: every item once, each source's items in their own order."""
    batches = _sources([list(range(30)), list(range(100, 140)), []], [4])
    pulled = [0, 0, 0]
    async with anyio.create_task_group() as tg:
        got = [x async for x in interleave([_gen(b, pulled, s) for s, b in enumerate(batches)], tg)]
    assert sorted(got) == sorted(i for source in batches for batch in source for i in batch)
    for s in range(3):
        mine = [x for x in got if x[1] == s]
        assert mine == sorted(mine)
