"""The k-way merge of `trailsweep merge`: sorted NDJSON inputs (shard outputs) into one
stream in the order of docs/design.md invariant 3, in bounded memory, checking that no
EventId of one (account, region) appears twice.

Why merging by (EventTime newest first, account, region) gives the unsharded output byte
for byte: a sweep's output is sorted by that key, then by the order within a pair, and a
shard holds whole pairs (settings/shards.py), so the lines of one pair are all in one
input, in their order. Lines of equal keys from different inputs (one pair in two inputs,
which correct shards never give) come in input order, then line order: the merge is
stable, so its output is defined whatever it is given.

How, in rounds rather than line by line (a heap push and pop per line would be Python
work for every line; a round's sort runs in C): each input holds one batch of lines
(merge_lines.InputLines), sorted by key. Let B be the smallest last key over the inputs
not yet at their end, and j the first input whose batch ends with B. Every line not yet
read sorts after B, or equals B in input j or one after it; so every held line with a
key below B, and those equal to B in inputs up to j, can go out now. They are
concatenated in input order and sorted by key (Python's sort is stable and merges sorted
runs in C), written, and input j, now used up, reads its next batch. Each input holds at
most one batch (one block read, merge_input.BLOCK), whatever the size of the inputs
(docs/design.md invariant 4).

The duplicate check holds as little: a duplicate of one event has its EventTime, and
the merged stream is sorted by (EventTime, account, region), so both copies are in one
run of equal keys. The window is the EventIds of the current run (one second of one
pair), forgotten when the key changes (`DuplicateWindow`). Each line's EventId is read
with its key, from its start.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter

from trailsweep.base.errors import InputError
from trailsweep.output.merge_lines import Batch, InputLines, describe_key

# A line's origin: its batch and its index there (formatted only for a message).
Origin = tuple[Batch, int]


class Chunk:
    """Lines going out together, in merged order: `lines`; for position p (0 to n - 1),
    `key(p)`, `ident(p)` (its EventId) and `origin(p)`; `ids`, the EventIds in any order."""

    __slots__ = ("ident", "ids", "key", "lines", "n", "origin")

    def __init__(
        self,
        lines: list[bytes],
        ids: list[bytes],
        key: Callable[[int], bytes],
        ident: Callable[[int], bytes],
        origin: Callable[[int], Origin],
    ) -> None:
        self.lines, self.ids, self.n = lines, ids, len(lines)
        self.key, self.ident, self.origin = key, ident, origin


class DuplicateWindow:
    """The EventIds of the current run of equal keys in the merged stream (module
    docstring), with where each was: the run at the end of the last chunk, which the next
    chunk may go on."""

    __slots__ = ("ids", "run_key")

    def __init__(self) -> None:
        self.run_key = b""
        self.ids: dict[bytes, Origin] = {}

    def check(self, chunk: Chunk) -> None:
        """Take the next chunk; InputError at the first EventId seen twice in one run.

        Most chunks hold no EventId twice at all (EventIds are unique across pairs too):
        one set of them says so, and only the run that goes on from the last chunk, and
        the chunk's last run, are looked at line by line. A chunk whose set is short is
        checked run by run."""
        key, n = chunk.key, chunk.n
        start = 0
        while start < n and key(start) == self.run_key:  # the last chunk's run goes on
            self._add(chunk, start)
            start += 1
        if start == n:
            return
        if len(set(chunk.ids)) != n:
            self._runs(chunk, start)
        last = n - 1
        while last > start and key(last - 1) == key(n - 1):
            last -= 1
        self.run_key, self.ids = key(n - 1), {}
        for p in range(last, n):
            self._add(chunk, p)

    def _runs(self, chunk: Chunk, start: int) -> None:
        key, ident, n = chunk.key, chunk.ident, chunk.n
        p = start
        while p < n:
            q, run = p + 1, key(p)
            while q < n and key(q) == run:
                q += 1
            if q - p > 1:
                seen: dict[bytes, int] = {}
                for x in range(p, q):
                    found = ident(x)
                    if found and seen.setdefault(found, x) != x:
                        first = chunk.origin(seen[found])
                        raise _duplicate(run, found, chunk.origin(x), first)
            p = q

    def _add(self, chunk: Chunk, p: int) -> None:
        found = chunk.ident(p)
        if not found:
            return
        where = chunk.origin(p)
        first = self.ids.setdefault(found, where)
        if first is not where:
            raise _duplicate(self.run_key, found, where, first)


def _duplicate(key: bytes, found: bytes, where: Origin, first: Origin) -> InputError:
    return InputError(
        f"merge: {where[0].where(where[1])}: EventId {found.decode(errors='replace')} of "
        f"{describe_key(key)} again (first at {first[0].where(first[1])}); an event is in "
        "one shard output once: was an output given twice, or outputs of different shard "
        "counts?"
    )


class Merge:
    """The merged stream of `inputs` (in the order given): iterate for chunks of NDJSON
    bytes, each a run of whole lines with their newlines; `lines` counts those yielded.
    Raises InputError (exit 2) at the first line that fails a check, before yielding the
    chunk that holds it."""

    __slots__ = ("inputs", "lines")

    def __init__(self, inputs: Sequence[InputLines]) -> None:
        self.inputs = list(inputs)
        self.lines = 0

    def __iter__(self) -> Iterator[bytes]:
        inputs = self.inputs
        held: list[Batch | None] = [None] * len(inputs)
        ended = [False] * len(inputs)
        window = DuplicateWindow()
        while True:
            for i, batch in enumerate(held):
                if batch is None or batch.pos == len(batch.lines):
                    held[i] = None  # let a used-up batch go before reading the next
                    if not ended[i]:
                        held[i] = inputs[i].next_batch()
                        ended[i] = held[i] is None
            takes = _takes(held, ended)
            if not takes:
                return
            chunk = _merged(takes)
            window.check(chunk)
            self.lines += chunk.n
            lines = chunk.lines
            lines.append(b"")  # the last line's newline, from the join
            yield b"\n".join(lines)


Take = tuple[Batch, int, int]  # a batch and the range of its lines going out


def _takes(held: list[Batch | None], ended: list[bool]) -> list[Take]:
    """What can go out now (module docstring: B and j), in input order; marks it taken."""
    bound: bytes | None = None
    first = len(held)
    for i, batch in enumerate(held):
        if batch is not None and not ended[i]:
            last = batch.keys[-1]
            if bound is None or last < bound:
                bound, first = last, i
    takes = []
    for i, batch in enumerate(held):
        if batch is None or batch.pos == len(batch.keys):
            continue
        start = batch.pos
        if bound is None:
            cut = len(batch.keys)
        elif i <= first:
            cut = bisect_right(batch.keys, bound, start)
        else:
            cut = bisect_left(batch.keys, bound, start)
        if cut > start:
            takes.append((batch, start, cut))
            batch.pos = cut
    return takes


def _merged(takes: list[Take]) -> Chunk:
    """The taken lines in key order (stable: input order, then line order), with their
    keys, EventIds and origins to look up."""
    if len(takes) == 1:
        one, start, end = takes[0]
        keys, ids = one.keys, one.ids
        return Chunk(
            one.lines[start:end], ids[start:end], lambda p: keys[start + p],
            lambda p: ids[start + p], lambda p: (one, start + p),
        )  # fmt: skip
    keys, ids, lines = [], [], []
    offsets = []
    for batch, start, end in takes:
        offsets.append(len(keys))
        keys += batch.keys[start:end]
        ids += batch.ids[start:end]
        lines += batch.lines[start:end]
    order = sorted(range(len(keys)), key=keys.__getitem__)

    def origin(p: int) -> Origin:
        at = order[p]
        t = bisect_right(offsets, at) - 1
        batch, start, _ = takes[t]
        return batch, start + at - offsets[t]

    return Chunk(
        list(itemgetter(*order)(lines)), ids, lambda p: keys[order[p]],
        lambda p: ids[order[p]], origin,
    )  # fmt: skip
