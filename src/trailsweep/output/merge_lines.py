"""One input of `trailsweep merge` as batches of whole lines with their merge keys, each
batch checked to continue the input's order.

The merge key of a line sorts the way docs/design.md invariant 3 orders a sweep's
output: EventTime newest first, then account, then region (the order inside a pair is
the order of the lines, which the merge keeps). It is one bytes string, so that keys
compare in C:

    EventTime with each digit d written 9 - d   (a later second sorts first)
    account, a NUL byte, region                 (NUL sorts before any character a JSON
                                                 string holds unescaped, so "12" < "123")

Bytes compare as the engine's strings do (UTF-8 keeps code point order).

The key is read from the line's start, which a sweep writes in a fixed form
(engine/record.py, docs/design.md "The NDJSON line"):
`{"account":"...","region":"...","EventTime":"YYYY-MM-DDTHH:MM:SSZ",...`; lines carry
whole CloudTrail records (1-2 KB), and parsing each would cost several times the merge.
One regular expression finds every line start of a block at once; only when some line
does not start in that form is the block taken line by line, and such a line parsed
whole: it must be a JSON object with string account, region and EventTime (whole seconds,
UTC, `Z`). Decision: a line whose start is in the form is not parsed further; merge checks
order and duplicates, not the JSON of each record (a sweep wrote them; `jq` or any JSON
reader will say if one was damaged).

A file must end with a newline (a sweep's lines all do): a last line without one is
refused as cut off, since a merge of a copy cut mid-line would otherwise look complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from operator import itemgetter, le
from typing import Any

import orjson

from trailsweep.base.errors import InputError

# A line's start as a sweep writes it, after the newline that ends the line before (the
# search runs on a literal then; outfile.scan_prefix does the same), with its EventId
# when it has one there (empty otherwise).
_START = re.compile(
    rb'\n\{"account":"([^"\\\n]*)","region":"([^"\\\n]*)",'
    rb'"EventTime":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)"'
    rb'(?:,"EventId":"([^"\\\n]*)")?'
)
_LINE_START = re.compile(_START.pattern[2:])  # the same, for one line without its newline
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_EVENT_ID = re.compile(
    rb'\{"account":"[^"\\]*","region":"[^"\\]*","EventTime":"[^"\\]*","EventId":"([^"\\]*)"'
)
# How much of each line the search reads: the start of a sweep's line up to the end of
# its EventId is about 140 bytes (12-digit account, region, time, 36-character id). A
# line whose start is longer is read whole (`_key_of`, `event_id`), as any line not in
# the form is. Searching these starts rather than whole lines (1-2 KB) is 10x less to read.
_head = itemgetter(slice(0, 192))
# Each digit d to 9 - d; also its own inverse, which turns a key's time back for messages.
DESCENDING = bytes.maketrans(b"0123456789", b"9876543210")
SEP = b"\0"
_TIME_LEN = 20
# A line longer than this is not a sweep's (a LookupEvents answer is capped at 16 MiB,
# aws/body_cap.py): refused rather than held in memory whole, however long it is.
MAX_LINE = 32 << 20


class Batch:
    """Whole lines of one file of an input (without their newlines), their keys and
    EventIds (empty: none), where the first one is in its file (1-based line number), and
    how many were taken (`pos`)."""

    __slots__ = ("file", "first", "ids", "keys", "lines", "pos")

    def __init__(
        self, file: str, first: int, keys: list[bytes], ids: list[bytes], lines: list[bytes]
    ) -> None:
        self.file, self.first, self.keys, self.ids, self.lines = file, first, keys, ids, lines
        self.pos = 0

    def where(self, index: int) -> str:
        """`FILE line N` of the line at `index`."""
        return f"{self.file} line {self.first + index}"


def describe_key(key: bytes) -> str:
    """`2026-12-07T19:45:12Z 111122223333/us-east-1`: a key as messages show it."""
    when = key[:_TIME_LEN].translate(DESCENDING).decode()
    account, _, region = key[_TIME_LEN:].partition(SEP)
    return f"{when} {account.decode(errors='replace')}/{region.decode(errors='replace')}"


def event_id(line: bytes) -> bytes:
    """The line's EventId (empty: it has none), from its start when a sweep wrote it."""
    found = _EVENT_ID.match(line)
    if found is not None:
        return found.group(1)
    try:
        value = orjson.loads(line).get("EventId")
    except (orjson.JSONDecodeError, AttributeError):
        return b""
    return value.encode() if isinstance(value, str) else b""


class InputLines:
    """The lines of one input (its (file, block) pairs, merge_input.open_blocks) as
    checked batches: `next_batch()` gives the next one, or None at the end. Each batch
    holds the whole lines of one block; the part of a line a block cut is carried to the
    next. Raises InputError naming the file and line for a line that is not an event
    line, out of order, cut off, or too long."""

    __slots__ = ("_blocks", "_carry", "_file", "_last", "_line")

    def __init__(self, blocks: Iterator[tuple[str, bytes]]) -> None:
        self._blocks = blocks
        self._carry = b""
        self._file = ""
        self._line = 1  # the number, in its file, of the line the carry starts
        self._last = b""  # the key of the input's last line so far ("" sorts first)

    def next_batch(self) -> Batch | None:
        for file, block in self._blocks:
            if file != self._file:
                self._end_file()
                self._file, self._line = file, 1
            lines = block.split(b"\n")  # no copy of the block: the carry joins its first line
            if len(lines) == 1:  # inside a long line
                self._carry += block
                if len(self._carry) > MAX_LINE:
                    raise InputError(
                        f"merge: {file} line {self._line}: longer than 32 MiB; not a line "
                        "a sweep writes"
                    )
                continue
            if self._carry:
                lines[0] = self._carry + lines[0]
            self._carry = lines.pop()
            batch = self._batch(file, lines)
            self._line += len(lines)
            return batch
        self._end_file()
        return None

    def _end_file(self) -> None:
        if self._carry:
            raise InputError(
                f"merge: {self._file} line {self._line}: the file ends inside this line (no "
                "newline after it): cut off; copy it again whole, or rerun the shard"
            )

    def _batch(self, file: str, lines: list[bytes]) -> Batch:
        found = _START.findall(b"\n".join([b"", *map(_head, lines)]))
        if len(found) == len(lines):
            trans, sep, join = DESCENDING, SEP, b"".join
            keys = [join((t.translate(trans), a, sep, r)) for a, r, t, _ in found]
            ids = [i for _, _, _, i in found]
            if b"" in ids:  # none there, or past the head: from the whole line
                ids = [i or event_id(line) for i, line in zip(ids, lines, strict=True)]
        else:
            keys = [self._key_of(file, self._line + i, line) for i, line in enumerate(lines)]
            ids = [event_id(line) for line in lines]
        batch = Batch(file, self._line, keys, ids, lines)
        self._check_order(batch)
        return batch

    def _check_order(self, batch: Batch) -> None:
        keys = batch.keys
        if self._last <= keys[0] and all(map(le, keys, islice(keys, 1, None))):
            self._last = keys[-1]
            return
        before = self._last
        for i, key in enumerate(keys):
            if key < before:
                raise InputError(
                    f"merge: {batch.where(i)}: out of order: {describe_key(key)} comes after "
                    f"{describe_key(before)}; each input must be newest first as one sweep "
                    "writes it (parts of several --state runs or of a follower are not one "
                    "ordered stream)"
                )
            before = key

    @staticmethod
    def _key_of(file: str, number: int, line: bytes) -> bytes:
        found = _LINE_START.match(line)
        if found is not None:
            account, region, when, _ = found.groups()
            return when.translate(DESCENDING) + account + SEP + region
        try:
            doc: Any = orjson.loads(line)
        except orjson.JSONDecodeError:
            what = "an empty line" if not line.strip() else "not JSON"
            raise _not_an_event(file, number, what) from None
        if not isinstance(doc, dict):
            raise _not_an_event(file, number, "not a JSON object")
        account, region, when = (doc.get(k) for k in ("account", "region", "EventTime"))
        if not (isinstance(account, str) and isinstance(region, str) and isinstance(when, str)):
            raise _not_an_event(file, number, "no account, region and EventTime strings")
        if not _TIME.fullmatch(when):
            what = f"EventTime {when[:40]!r} is not YYYY-MM-DDTHH:MM:SSZ"
            raise _not_an_event(file, number, what)
        return when.encode().translate(DESCENDING) + account.encode() + SEP + region.encode()


def _not_an_event(file: str, number: int, what: str) -> InputError:
    return InputError(
        f"merge: {file} line {number}: {what}; every line must be a sweep's NDJSON event "
        "(a JSON object with account, region and EventTime)"
    )
