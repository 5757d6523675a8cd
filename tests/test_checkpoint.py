"""Checkpoint files: atomic, checksummed, round-tripping every cursor field."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trailsweep.base.errors import CheckpointError
from trailsweep.engine.pair import Cursor, PairState
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.output.checkpoint import Checkpoint
from trailsweep.output.outfile import scan_prefix

cursors = st.builds(
    Cursor,
    end=st.none() | st.integers(0, 2**31),
    token=st.none() | st.text(max_size=40),
    skip=st.integers(0, 50),
    oldest=st.none() | st.integers(0, 2**31),
    ids=st.lists(st.uuids().map(str), max_size=5),
    written=st.integers(0, 10**6),
)
pairs = st.builds(
    PairState,
    account=st.from_regex(r"\d{12}", fullmatch=True),
    region=st.sampled_from(["us-east-1", "eu-west-1"]),
    state=st.sampled_from(["pending", "running", "done", "failed"]),
    calls=st.integers(0, 1000),
    cursor=cursors,
)


@settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ps=st.lists(pairs, max_size=6), offset=st.integers(0, 10**9), finished=st.booleans())
def test_save_then_load_round_trips(
    tmp_path: Path, ps: list[PairState], offset: int, finished: bool
) -> None:
    """Everything a resume needs comes back exactly."""
    path = tmp_path / "c.json"
    ckpt = Checkpoint(spec={"raw": False}, query={"start": "x"}, pairs=ps, offset=offset,
                      written=7, finished=finished)  # fmt: skip
    ckpt_mod.save(path, ckpt)
    back = ckpt_mod.load(path)
    assert back.offset == offset and back.finished == finished and back.written == 7
    assert [(p.account, p.region, p.state, p.cursor) for p in back.pairs] == [
        (p.account, p.region, p.state, p.cursor) for p in ps
    ]
    assert not path.with_name("c.json.tmp").exists()


@settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_flipped_byte_or_truncation_is_detected(tmp_path: Path, data: st.DataObject) -> None:
    """A checkpoint with any byte changed, or cut anywhere, is refused."""
    path = tmp_path / "c.json"
    pair = PairState("123456789012", "us-east-1", cursor=Cursor(token="t", skip=3, written=9))
    ckpt_mod.save(path, Checkpoint(spec={"a": 1}, query={}, pairs=[pair], offset=99))
    good = path.read_bytes()
    i = data.draw(st.integers(0, len(good) - 2))  # the final newline carries no data
    if data.draw(st.booleans()):
        bad = bytearray(good)
        bad[i] = (bad[i] + data.draw(st.integers(1, 255))) % 256
        path.write_bytes(bytes(bad))
    else:
        path.write_bytes(good[:i])
    with pytest.raises(CheckpointError):
        ckpt_mod.load(path)


def test_differences_name_what_changed() -> None:
    """The refusal message says which setting changed and how."""
    diff = ckpt_mod.differences(
        {"start_time": "7d", "raw": False}, {"start_time": "1d", "raw": False}
    )
    assert diff == ["start_time was '7d', now '1d'"]


event_lines = st.builds(
    lambda account, region, rest: (
        b'{"account":"' + account.encode() + b'","region":"' + region.encode() + b'",'
        + rest.encode() + b"}\n"
    ),
    st.sampled_from(["111122223333", "444455556666"]),
    st.sampled_from(["us-east-1", "eu-west-1"]),
    st.text(alphabet='abc":,{}\\', max_size=40),
)  # fmt: skip
other_lines = st.one_of(
    st.just(b"\n"),
    st.just(b'{"account":"1","region"\n'),  # cut short
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"") + b"\n"),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(event_lines | other_lines, max_size=30),
    chunk=st.integers(1, 64),
    long_line=st.integers(64, 200),  # longer than the names: a pair is named early
)
def test_scan_prefix_counts_what_a_line_by_line_reading_counts(
    tmp_path: Path, lines: list[bytes], chunk: int, long_line: int
) -> None:
    """Lines and lines per pair, whatever the chunks the file is read in and however long
    its lines: the same as reading it line by line."""
    data = b"".join(lines)
    path = tmp_path / "out.ndjson"
    path.write_bytes(data + b"beyond the offset")
    found = scan_prefix(path, len(data), chunk=chunk, long_line=long_line)
    want: Counter[tuple[str, str]] = Counter()
    for line in lines:
        head, sep, rest = line.partition(b'","region":"')
        region = rest.split(b'"', 1)[0]
        ours = line.startswith(b'{"account":"') and sep and b'"' in rest
        name = (head[12:].decode(), region.decode()) if ours else ("", "")
        if b"\n" in name[0].encode() + name[1].encode() or b"\\" in head + region:
            name = ("", "")
        want[name] += 1
    assert found.lines == len(lines)
    assert +found.per_pair == +want
    assert found.digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert found.last_byte == data[-1:]
