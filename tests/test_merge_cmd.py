"""`trailsweep merge` and `trailsweep.merge_files`: shard outputs merged back give the
unsharded sweep's bytes; every check refuses with one line naming the file and line, and
leaves no -o file; memory holds one batch per input.

Lines here are the sweep's own output (the property test) or built from this file's
statement of the line format (`support.expected_line`), never by the client's code.
Directories of parts are written here by their naming rule (README, output/parts.py):
`trailsweep-<UTC second>-<number>.ndjson[.gz|.zst]`, temp parts `.trailsweep-...tmp`."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import orjson
import pytest
import zstandard
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import trailsweep
from trailsweep.emulator import EmulatorThread
from trailsweep.output.merge_lines import InputLines
from trailsweep.output.merge_parts import Merge
from trailsweep.settings.shards import assign

from inproc import run_here
from support import NOW_EPOCH, expected_line, run_cli, settings

START, END = NOW_EPOCH - 2 * 3600, NOW_EPOCH
FORMS = ("plain", "gz", "zst", "parts", "stdin")


# the unsharded sweep and its shards ------------------------------------------------------
def unsharded(seed: int, directory: Path) -> bytes:
    """One sweep of a seeded emulator org (4 accounts x 3 regions, quota lifted), as
    `trailsweep.export` writes it."""
    emu_settings = settings(
        members=3, suspended=0, seed=seed, events_per_day=300.0,
        regions=("us-east-1", "eu-west-1", "ap-south-1"),
        faults={"rate": 10_000.0, "burst": 10_000.0},
    )  # fmt: skip
    with EmulatorThread(emu_settings) as emu:
        info = emu.emulator.ready_info()
        sweep = trailsweep.SweepSettings.build(
            accounts="org", regions="all", start_time=str(START), end_time=str(END),
            endpoint_url=info["url"], region=info["region"], rate=100.0,
            access_key_id=info["access_key_id"], secret_access_key=info["secret_access_key"],
        )  # fmt: skip
        out = directory / "unsharded.ndjson"
        anyio.run(trailsweep.export, sweep, out)
    return out.read_bytes()


def shards_of(data: bytes, count: int) -> list[list[bytes]]:
    """The lines of `data` dealt to `count` shards by settings.shards.assign over their
    (account, region), each shard keeping the lines' order."""
    lines = data.splitlines(keepends=True)
    pairs = [(doc["account"], doc["region"]) for doc in map(orjson.loads, lines)]
    shard = assign(sorted(set(pairs)), count)
    out: list[list[bytes]] = [[] for _ in range(count)]
    for pair, line in zip(pairs, lines, strict=True):
        out[shard[pair]].append(line)
    return out


def compressed(data: bytes, form: str) -> bytes:
    if form == "gz":
        return gzip.compress(data, mtime=0)
    if form == "zst":
        return zstandard.ZstdCompressor().compress(data)
    return data


def write_parts(directory: Path, lines: list[bytes], pieces: int = 3) -> None:
    """`lines` as parts of `directory` (cut in `pieces`, compressed in turn as none, gz,
    zst), plus what a reader of parts must pass over: a temp part and the checkpoint."""
    directory.mkdir()
    size = max(1, -(-len(lines) // pieces))
    for n, at in enumerate(range(0, len(lines), size), start=1):
        form = ("plain", "gz", "zst")[n % 3]
        suffix = {"plain": "", "gz": ".gz", "zst": ".zst"}[form]
        name = f"trailsweep-20261207T1945{n:02d}Z-{n:06d}.ndjson{suffix}"
        (directory / name).write_bytes(compressed(b"".join(lines[at : at + size]), form))
    (directory / ".trailsweep-20261207T194600Z-000099.tmp").write_bytes(b"half a line")
    (directory / ".trailsweep.checkpoint.json").write_bytes(b"{}\n")


def write_input(directory: Path, index: int, lines: list[bytes], form: str) -> str:
    """Shard `index` as an input of form `form`: its path ("-" for stdin)."""
    if form == "stdin":
        return "-"
    if form == "parts":
        write_parts(directory / f"shard-{index}", lines)
        return str(directory / f"shard-{index}")
    suffix = {"plain": "", "gz": ".gz", "zst": ".zst"}[form]
    path = directory / f"shard-{index}.ndjson{suffix}"
    path.write_bytes(compressed(b"".join(lines), form))
    return str(path)


@hypothesis_settings(max_examples=10)
@given(
    seed=st.integers(0, 100_000),
    forms=st.lists(st.sampled_from(FORMS), min_size=1, max_size=8),
)
def test_merged_shards_are_the_unsharded_bytes(seed: int, forms: list[str]) -> None:
    """For N from 1 to 8 shards of one sweep, written as plain, .gz, .zst, directories of
    parts or stdin, the merge is the unsharded output byte for byte."""
    forms = [
        f if f != "stdin" or "stdin" not in forms[:i] else "plain" for i, f in enumerate(forms)
    ]
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        data = unsharded(seed, directory)
        shards = shards_of(data, len(forms))
        specs = [
            write_input(directory, i, s, f)
            for i, (s, f) in enumerate(zip(shards, forms, strict=True))
        ]
        piped = [b"".join(s) for s, f in zip(shards, forms, strict=True) if f == "stdin"]
        out = directory / "merged.ndjson"
        report = trailsweep.merge_files(specs, out, stdin=io.BytesIO(b"".join(piped)))
        assert data.count(b"\n") > 100  # enough events that shards interleave
        assert out.read_bytes() == data
        assert report.lines == data.count(b"\n") and report.size == len(data)
        assert len(report.skipped) == forms.count("parts")


# lines stated here ---------------------------------------------------------------------
def event_line(account: str, region: str, when: int, event_id: str) -> bytes:
    record = {"eventID": event_id, "eventName": "DescribeInstances", "padding": "x" * 900}
    event = {
        "EventId": event_id, "EventName": "DescribeInstances", "EventTime": when,
        "EventSource": "ec2.amazonaws.com", "CloudTrailEvent": orjson.dumps(record).decode(),
    }  # fmt: skip
    return expected_line(account, region, event)


A, B = "111122223333", "444455556666"
T = 1_800_000_000


def shard_a() -> list[bytes]:
    return [event_line(A, "us-east-1", T - i // 2, f"a-{i}") for i in range(6)]


def shard_b() -> list[bytes]:
    return [event_line(B, "eu-west-1", T - i, f"b-{i}") for i in range(4)]


def sorted_lines(*inputs: list[bytes]) -> bytes:
    """The merge as this test states it: newest first, account, region, then input and
    line order."""
    keyed = []
    for i, lines in enumerate(inputs):
        for j, line in enumerate(lines):
            doc = orjson.loads(line)
            keyed.append(((_neg(doc["EventTime"]), doc["account"], doc["region"], i, j), line))
    return b"".join(line for _, line in sorted(keyed))


def _neg(stamp: str) -> tuple[int, ...]:
    return tuple(-int(c) for c in stamp if c.isdigit())


def test_two_shards_merge_newest_first_and_one_input_is_itself(tmp_path: Path) -> None:
    """Interleaved times come out newest first, ties by account; one input is copied."""
    a, b = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    a.write_bytes(b"".join(shard_a()))
    b.write_bytes(b"".join(shard_b()))
    out = io.BytesIO()
    report = trailsweep.merge_files([str(b), str(a)], stdout=out)
    assert out.getvalue() == sorted_lines(shard_b(), shard_a())
    assert report.lines == 10 and report.output is None
    single = io.BytesIO()
    trailsweep.merge_files([a], stdout=single)
    assert single.getvalue() == a.read_bytes()


def test_one_pair_in_two_inputs_keeps_input_then_line_order(tmp_path: Path) -> None:
    """Lines of equal keys from two inputs (not what shards give, but defined): the first
    input's first, each in its own order."""
    first = [event_line(A, "us-east-1", T, f"first-{i}") for i in range(3)]
    second = [event_line(A, "us-east-1", T, f"second-{i}") for i in range(3)]
    (tmp_path / "2.ndjson").write_bytes(b"".join(second))
    (tmp_path / "1.ndjson").write_bytes(b"".join(first))
    out = io.BytesIO()
    trailsweep.merge_files([tmp_path / "2.ndjson", tmp_path / "1.ndjson"], stdout=out)
    assert out.getvalue() == b"".join(second + first)


def test_empty_inputs_give_an_empty_output(tmp_path: Path) -> None:
    """Empty files (shards with no events) merge to nothing; -o is still written."""
    for name in ("a.ndjson", "b.ndjson.gz"):
        (tmp_path / name).write_bytes(compressed(b"", "gz" if name.endswith("gz") else "plain"))
    (tmp_path / "empty").mkdir()
    report = trailsweep.merge_files(
        [tmp_path / "a.ndjson", tmp_path / "b.ndjson.gz", tmp_path / "empty"], tmp_path / "o"
    )
    assert (tmp_path / "o").read_bytes() == b"" and report.lines == 0


# the checks ----------------------------------------------------------------------------
def _bad_inputs(tmp_path: Path, case: str) -> tuple[list[str], str]:
    """Inputs that must be refused, and what the message must name (`FILE line N`)."""
    good = tmp_path / "good.ndjson"
    good.write_bytes(b"".join(shard_b()))
    bad = tmp_path / "bad.ndjson"
    lines = shard_a()
    if case == "unsorted":
        lines[3], lines[4] = lines[4], lines[3]
        bad.write_bytes(b"".join(lines))
        return [str(good), str(bad)], f"{bad} line 5: out of order"
    if case == "duplicate":  # one event twice in one file: same second, pair and EventId
        bad.write_bytes(b"".join([*lines[:3], lines[2], *lines[3:]]))
        return [str(good), str(bad)], f"{bad} line 4: EventId a-2"
    if case == "duplicate across inputs":  # the same shard output twice, under two names
        bad.write_bytes(good.read_bytes())
        return [str(good), str(bad)], f"{bad} line 1: EventId b-0"
    if case in ("not json", "not an object", "no EventTime", "empty line"):
        wrong = {
            "not json": b"{not json\n", "not an object": b"[1, 2]\n",
            "no EventTime": b'{"account":"1","region":"r"}\n', "empty line": b"\n",
        }[case]  # fmt: skip
        bad.write_bytes(b"".join([*lines[:2], wrong, *lines[2:]]))
        return [str(good), str(bad)], f"{bad} line 3: "
    if case == "cut mid-line":
        bad.write_bytes(b"".join(lines)[:-10])
        return [str(good), str(bad)], f"{bad} line 6: the file ends inside this line"
    suffix = ".gz" if case == "truncated gz" else ".zst"
    cut = tmp_path / f"bad.ndjson{suffix}"
    whole = compressed(b"".join(lines * 50), suffix[1:])
    cut.write_bytes(whole[: len(whole) // 2])
    return [str(good), str(cut)], f"{cut} ends in the middle"


CASES = ["unsorted", "duplicate", "duplicate across inputs", "not json", "not an object",
         "no EventTime", "empty line", "cut mid-line", "truncated gz", "truncated zst"]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_each_check_refuses_naming_the_file_and_line_and_writes_nothing(
    tmp_path: Path, case: str
) -> None:
    """A part out of order, an EventId of one pair twice, a line that is not an event, a
    file cut off: InputError naming the file (and line), and no -o file nor temp file."""
    specs, named = _bad_inputs(tmp_path, case)
    before = set(tmp_path.iterdir())
    with pytest.raises(trailsweep.InputError) as caught:
        trailsweep.merge_files(specs, tmp_path / "out.ndjson")
    assert named in str(caught.value) and "\n" not in str(caught.value)
    assert set(tmp_path.iterdir()) == before  # no output, no temp left behind


def test_a_refused_merge_is_one_line_on_stderr_exit_2_and_no_file(tmp_path: Path) -> None:
    """The command: one line on stderr, exit 2, the -o file not created."""
    specs, named = _bad_inputs(tmp_path, "duplicate across inputs")
    result = run_here(["merge", *specs, "-o", str(tmp_path / "out.ndjson")])
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr.count(b"\n") == 1 and named.encode() in result.stderr
    assert not (tmp_path / "out.ndjson").exists()


@pytest.mark.parametrize(
    ("given", "named"),
    [(["missing.ndjson"], "missing.ndjson"), (["-", "-"], "stdin"),
     (["a.ndjson", "a.ndjson"], "named twice"), ([], "no input"),
     (["a\0b"], "not a path"), (["\ud800"], "not a path")],
)  # fmt: skip
def test_inputs_that_cannot_be_merged_are_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: list[str], named: str
) -> None:
    """No input, stdin twice, a missing file, one file twice: InputError, no -o file."""
    (tmp_path / "a.ndjson").write_bytes(b"".join(shard_a()))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(trailsweep.InputError, match=named):
        trailsweep.merge_files(given, "out.ndjson")
    assert not (tmp_path / "out.ndjson").exists()


def test_an_existing_output_is_kept_unless_overwrite(tmp_path: Path) -> None:
    """-o naming a file that exists: exit 2 and the file untouched; with --overwrite it is
    replaced whole and keeps its mode."""
    a = tmp_path / "a.ndjson"
    a.write_bytes(b"".join(shard_a()))
    out = tmp_path / "out.ndjson"
    out.write_bytes(b"mine\n")
    out.chmod(0o640)
    refused = run_here(["merge", str(a), "-o", str(out)])
    assert refused.returncode == 2 and b"--overwrite" in refused.stderr
    assert out.read_bytes() == b"mine\n"
    done = run_here(["merge", str(a), "-o", str(out), "--overwrite"])
    assert done.returncode == 0, done.stderr.decode()
    assert out.read_bytes() == a.read_bytes() and out.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ndjson", "out.ndjson"]


def test_stdin_and_a_directory_to_stdout_and_a_compressed_output(tmp_path: Path) -> None:
    """`merge - DIR -o -` reads stdin and the directory's parts (its temp part is named as
    not merged on stderr) and writes stdout; `-o X.zst` writes zstandard."""
    write_parts(tmp_path / "spool", shard_b())
    command = [sys.executable, "-m", "trailsweep", "merge", "-", str(tmp_path / "spool"), "-o", "-"]
    result = subprocess.run(
        command, input=b"".join(shard_a()), capture_output=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == sorted_lines(shard_a(), shard_b())
    assert b"000099.tmp is a part being written" in result.stderr
    zst = tmp_path / "all.ndjson.zst"
    assert run_here(["merge", str(tmp_path / "spool"), "-o", str(zst)]).returncode == 0
    assert zstandard.ZstdDecompressor().stream_reader(zst.read_bytes()).read() == b"".join(
        shard_b()
    )


def test_a_check_failing_midway_on_stdout_leaves_whole_lines_of_the_merge(tmp_path: Path) -> None:
    """stdout cannot be taken back: what went out before the refused line is a prefix of
    the merge, in whole lines, and the error still comes (README: discard it on exit 2)."""
    lines = [event_line(A, "us-east-1", T - i, f"e-{i}") for i in range(5000)]
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(b"".join([*lines, lines[-1]]))  # its last event twice
    out = io.BytesIO()
    with pytest.raises(trailsweep.InputError, match="line 5001"):
        trailsweep.merge_files([bad], stdout=out)
    written = out.getvalue()
    assert b"".join(lines).startswith(written) and written.endswith(b"\n")


# bounded memory ------------------------------------------------------------------------
def test_the_merge_holds_one_batch_per_input_whatever_their_size() -> None:
    """Inputs read lazily, one line a block: at every chunk the merge has read at most one
    line per input that it has not written (plus none for the duplicate window, which
    holds EventIds only), however long the inputs."""
    count, inputs = 2000, 4
    read = [0] * inputs

    def blocks(k: int) -> Iterator[tuple[str, bytes]]:
        for i in range(count):
            read[k] += 1
            yield f"in-{k}", event_line(f"{k}" * 12, "us-east-1", T - i, f"{k}-{i}")

    merge = Merge([InputLines(blocks(k)) for k in range(inputs)])
    written = 0
    for chunk in merge:
        written += chunk.count(b"\n")
        assert sum(read) - written <= inputs
    assert written == count * inputs


def lazy(name: str, lines: list[bytes]) -> Iterator[tuple[str, bytes]]:
    """An input that gives one line a block: every line is a round of the merge."""
    for line in lines:
        yield name, line


def test_ties_across_rounds_keep_input_then_line_order() -> None:
    """Equal keys in two inputs, one line a block: still the first input's lines first."""
    first = [event_line(A, "us-east-1", T, f"first-{i}") for i in range(3)]
    second = [event_line(A, "us-east-1", T, f"second-{i}") for i in range(3)]
    merge = Merge([InputLines(lazy("1", first)), InputLines(lazy("2", second))])
    assert b"".join(merge) == b"".join(first + second)


def test_a_duplicate_in_a_run_across_rounds_is_found() -> None:
    """The duplicate window goes on from one chunk to the next: one event twice in a run
    of its second, each line a block of its own, is found."""
    run = [event_line(A, "us-east-1", T, f"e-{i}") for i in range(4)]
    other = [event_line(B, "us-east-1", T - i, f"o-{i}") for i in range(4)]
    merge = Merge([InputLines(lazy("in", [*run, run[1]])), InputLines(lazy("o", other))])
    with pytest.raises(
        trailsweep.InputError, match=r"in line 5: EventId e-1 .*\(first at in line 2\)"
    ):
        b"".join(merge)


def test_the_cli_help_shows_examples() -> None:
    """`trailsweep merge --help` names the checks and ends with its examples."""
    result = run_cli(["merge", "--help"])
    assert result.returncode == 0
    assert b"EventId" in result.stdout and b"trailsweep merge shard-0.ndjson" in result.stdout


def test_merge_needs_no_aws_setting(tmp_path: Path) -> None:
    """Merging makes no call: it runs without any AWS_* variable."""
    (tmp_path / "a.ndjson").write_bytes(b"".join(shard_a()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = run_here(["merge", str(tmp_path / "a.ndjson")], env=env)
    assert result.returncode == 0 and result.stdout == b"".join(shard_a())
