"""`sweep --output-dir s3://bucket/prefix` against a real S3 API (moto's server), through
trailsweep's own aioboto3 client: parts that put end to end are what `--output FILE`
writes, each object whole when listed, each event once across kills and reruns."""

from __future__ import annotations

import gzip
import io
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import orjson
import pytest

from trailsweep.api.stream import unwrapped
from trailsweep.aws.s3 import S3Access, S3Error, S3Objects
from trailsweep.base.errors import OutputFailed
from trailsweep.cli.app import main
from trailsweep.emulator import EmulatorThread
from trailsweep.engine.sweep import SweepReport
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.output.checkpoint_spec import spec_of
from trailsweep.output.parts_export import PartsExport, run_parts
from trailsweep.output.s3_parts import prepare_s3_parts
from trailsweep.output.s3_store import S3PartStore, access_of, read_parts
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.timeparse import format_time, from_epoch

from inproc import run_here
from s3_support import REGION, MotoS3
from support import NOW_EPOCH, UseEmu, aws_env, expected_ndjson, settings, wait_for
from test_output_dir import held

START, END = NOW_EPOCH - 3600, NOW_EPOCH - 1
# A part's name as the README states it: the UTC second it was opened, its number.
NAME = re.compile(r"trailsweep-\d{8}T\d{6}Z-(\d{6,})\.ndjson(\.gz|\.zst)?")
MAIN, NEXT = ".trailsweep.checkpoint.json", ".trailsweep.checkpoint.next.json"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    """2 accounts x 2 regions, ~950 events in the hour swept, no quota to wait on."""
    fast = settings(members=1, suspended=0, events_per_day=2000.0,
                    faults={"rate": 1e4, "burst": 1e4})  # fmt: skip
    with EmulatorThread(fast) as running:
        yield running


@pytest.fixture
def bucket(s3: MotoS3) -> str:
    """A fresh bucket for each test (the server is shared by the session)."""
    return s3.make_bucket(f"trailsweep-{uuid.uuid4().hex[:16]}")


def _args(*extra: str) -> list[str]:
    return [
        "sweep", "--accounts", "org", "--regions", "all", "--no-progress", "--rate", "100",
        "--start-time", format_time(from_epoch(START)),
        "--end-time", format_time(from_epoch(END)), *extra,
    ]  # fmt: skip


def _env(emu: EmulatorThread, s3: MotoS3) -> dict[str, str]:
    return aws_env(emu, AWS_ENDPOINT_URL_S3=s3.url)


def _truth(emu: EmulatorThread) -> bytes:
    accounts = sorted(a.id for a in emu.emulator.world.accounts)
    pairs = [(a, r) for a in accounts for r in ("eu-west-1", "us-east-1")]
    return expected_ndjson(emu, pairs, start=START, end=END)


def _parts(s3: MotoS3, bucket: str, prefix: str) -> list[str]:
    """The part objects under the prefix, in name order."""
    cut = len(prefix) + 1
    return [k for k in s3.keys(bucket, prefix + "/") if NAME.fullmatch(k[cut:])]


def _ndjson(name: str, data: bytes) -> bytes:
    return gzip.decompress(data) if name.endswith(".gz") else data


def _joined(s3: MotoS3, bucket: str, prefix: str) -> bytes:
    return b"".join(_ndjson(k, s3.get(bucket, k)) for k in _parts(s3, bucket, prefix))


def _numbers(s3: MotoS3, bucket: str, prefix: str) -> list[int]:
    names = [k.rpartition("/")[2] for k in _parts(s3, bucket, prefix)]
    return [int(m.group(1)) for n in names if (m := NAME.fullmatch(n))]


@pytest.fixture(scope="module")
def output_file(emu: EmulatorThread, s3: MotoS3, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """What `--output FILE` writes over the window: once for both --compress cases below
    (the emulator's data and the window are fixed, so each case's own run wrote these
    same bytes)."""
    out = tmp_path_factory.mktemp("file") / "all.ndjson"
    assert run_here(_args("--output", str(out)), env=_env(emu, s3)).returncode == 0
    return out.read_bytes()


@pytest.mark.parametrize("compress", [None, "gz"])
def test_parts_on_s3_end_to_end_are_what_output_file_writes(
    emu: EmulatorThread, s3: MotoS3, bucket: str, output_file: bytes, compress: str | None
) -> None:
    """Objects of at most 16 KiB of NDJSON each, numbered 1..n in name order, beside the
    checkpoint object: put end to end (decompressed with --compress gz), the truth, byte
    for byte what `--output FILE` writes; run again, the finished sweep is left alone."""
    env = _env(emu, s3)
    extra = ["--compress", compress] if compress else []
    args = _args("--output-dir", f"s3://{bucket}/audit/shard-0", "--part-size", "16KiB", *extra)
    done = run_here(args, env=env)
    assert done.returncode == 0, done.stderr.decode()
    truth = _truth(emu)
    assert _joined(s3, bucket, "audit/shard-0") == truth == output_file
    found = _parts(s3, bucket, "audit/shard-0")
    assert len(found) > 20
    assert _numbers(s3, bucket, "audit/shard-0") == list(range(1, len(found) + 1))
    suffix = ".ndjson.gz" if compress else ".ndjson"
    assert all(k.endswith(suffix) for k in found)
    for key in found:
        data = _ndjson(key, s3.get(bucket, key))
        assert data.endswith(b"\n")
        assert len(data) <= 16 * 1024 or data.count(b"\n") == 1
    checkpoint = ckpt_mod.parse(s3.get(bucket, f"audit/shard-0/{MAIN}"), MAIN)
    assert checkpoint.finished and checkpoint.written == truth.count(b"\n")
    assert [p["name"] for p in (checkpoint.parts or {})["parts"]] == [
        k.rpartition("/")[2] for k in found
    ]
    assert s3.uploads(bucket) == []

    keys = s3.keys(bucket)
    again = run_here(args, env=env)
    assert again.returncode == 0, again.stderr.decode()
    assert "is complete" in again.stderr.decode() and "nothing was done" in again.stderr.decode()
    assert s3.keys(bucket) == keys


def test_a_run_killed_midway_then_run_again_writes_each_event_once(
    emu: EmulatorThread, s3: MotoS3, bucket: str
) -> None:
    """A CLI run stopped by the emulator after 16 pages with parts already on S3, then
    SIGKILLed: every object listed is a whole part its checkpoint accounts for; run
    again, the parts end to end are the truth, each event once, numbered without a gap.

    `--no-slices --read-ahead 0`: a pair asks for its next page only once the merge took
    the last one, so the 16 pages are spread over the 4 pairs and parts close before the
    hold."""
    env = _env(emu, s3)
    prefix = "killed"
    args = _args("--output-dir", f"s3://{bucket}/{prefix}", "--part-size", "16KiB",
                 "--page-size", "10", "--no-slices", "--read-ahead", "0")  # fmt: skip
    with held(emu, pages=16) as hold:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trailsweep", *args], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert hold.holding.wait(timeout=120)
            # Objects another process puts: no event can say so (support.wait_for).
            assert wait_for(lambda: len(_parts(s3, bucket, prefix)) >= 2, timeout=60)
        finally:
            proc.kill()
            proc.wait(timeout=30)
    listed = _parts(s3, bucket, prefix)
    recorded = set()
    for name in (MAIN, NEXT):
        if f"{prefix}/{name}" in s3.keys(bucket, prefix + "/"):
            got = ckpt_mod.parse(s3.get(bucket, f"{prefix}/{name}"), name)
            recorded |= {p["name"] for p in (got.parts or {})["parts"]}
            assert not got.finished
    assert {k.rpartition("/")[2] for k in listed} <= recorded
    for key in listed:  # each one whole: every line a JSON object
        assert all(orjson.loads(line) for line in s3.get(bucket, key).splitlines())

    final = run_here(args, env=env)
    assert final.returncode == 0, final.stderr.decode()
    assert _joined(s3, bucket, prefix) == _truth(emu)
    assert _numbers(s3, bucket, prefix) == list(range(1, len(_parts(s3, bucket, prefix)) + 1))


class Dies(BaseException):
    """The process dying at a chosen step (not an Exception: nothing catches it)."""


class DyingStore(S3PartStore):
    """Dies at the 5th part: as it is about to go up ("upload"), or once it is up, before
    the main checkpoint records it done ("main"). On this side of the store's thread, as
    a process dies: its client's loop is not told."""

    def __init__(self, *args: Any, step: str) -> None:
        super().__init__(*args)
        self.step, self.uploads = step, 0

    def call(self, doing: str, fn: Callable[..., Any], *args: Any) -> Any:
        if doing.startswith("cannot put the part"):
            self.uploads += 1
            if self.uploads == 5 and self.step == "upload":
                raise Dies
        return super().call(doing, fn, *args)

    def put_checkpoint(self, name: str, data: bytes) -> None:
        if self.uploads == 5 and self.step == "main" and name == MAIN:
            raise Dies
        super().put_checkpoint(name, data)


def _sweep(settings_: SweepSettings, store: S3PartStore | None = None) -> PartsExport:
    job = prepare_s3_parts(settings_, spec_of(settings_), store=store)
    with unwrapped():  # what a task group raises, as the CLI and export_parts see it
        anyio.run(lambda: run_parts(job, SweepReport()))
    return job


@pytest.mark.parametrize("step", ["upload", "main"])
def test_a_run_dying_around_a_part_upload_is_finished_exactly_once(
    emu: EmulatorThread, use_emu: UseEmu, s3: MotoS3, bucket: str,
    monkeypatch: pytest.MonkeyPatch, step: str,
) -> None:  # fmt: skip
    """A run dies at its 5th part either while the part is going up (no object: the next
    run writes its lines again) or once it is up but before the main checkpoint says so
    (the next run finds it under the `next` checkpoint and keeps it): either way the
    parts end to end are the truth, each event once, numbered without a gap."""
    use_emu(emu)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
    s = SweepSettings.build(
        accounts="org", regions="all", start_time=from_epoch(START), end_time=from_epoch(END),
        output_dir=f"s3://{bucket}/dying", part_size="16KiB",
    )  # fmt: skip
    assert s.output_s3 is not None
    store = DyingStore(s.output_s3, access_of(s), step=step)
    with pytest.raises(BaseExceptionGroup) as died:  # from the sweep's task group
        _sweep(s, store)
    assert died.value.subgroup(Dies) is not None
    names = [k.rpartition("/")[2] for k in _parts(s3, bucket, "dying")]
    assert len(names) == (4 if step == "upload" else 5)
    fifth = ckpt_mod.parse(s3.get(bucket, f"dying/{NEXT}"), NEXT)
    main_now = ckpt_mod.parse(s3.get(bucket, f"dying/{MAIN}"), MAIN)
    assert len((fifth.parts or {})["parts"]) == 5 and len((main_now.parts or {})["parts"]) == 4

    _sweep(s)
    assert _joined(s3, bucket, "dying") == _truth(emu)
    numbers = _numbers(s3, bucket, "dying")
    assert numbers == list(range(1, len(numbers) + 1))
    if step == "main":  # the part that was up is kept, not written again
        assert [k.rpartition("/")[2] for k in _parts(s3, bucket, "dying")][:5] == names


def test_a_large_part_goes_up_in_pieces_and_is_never_listed_half_done(
    s3: MotoS3, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the multipart threshold (lowered to 5 MiB here, S3's least piece): while the
    pieces of a 12 MiB part go up, the object is never listed; once complete it is, whole.
    A failure half-way aborts the upload: nothing listed, no upload left in progress."""
    data = bytes(range(256)) * (12 * 4096)  # 12 MiB
    seen: list[list[str]] = []

    class Watched(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            seen.append(s3.keys(bucket))  # what a reader lists while the pieces go up
            return super().read(size)

    class Failing(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > 0:
                raise OSError("disk gone")
            return super().read(size)

    async def run() -> None:
        access = S3Access(region=REGION, access_key_id="testing", secret_access_key="testing")
        async with access.client() as client:
            objects = S3Objects(client, multipart_at=5 << 20)
            await objects.upload(bucket, "p/big", Watched(data), len(data), {"sha256": "x"})
            with pytest.raises(OSError, match="disk gone"):
                await objects.upload(bucket, "p/broken", Failing(data), len(data), {})
            with pytest.raises(S3Error) as taken:  # a key already there is never replaced
                await objects.upload(bucket, "p/big", io.BytesIO(b"x"), 1, {})
            assert taken.value.code == "PreconditionFailed"

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
    anyio.run(run)
    assert len(seen) >= 2 and all("p/big" not in keys for keys in seen)
    assert s3.keys(bucket) == ["p/big"] and s3.get(bucket, "p/big") == data
    assert s3.uploads(bucket) == []


def test_read_parts_streams_every_complete_part_in_name_order(
    emu: EmulatorThread, use_emu: UseEmu, s3: MotoS3, bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """read_parts (for merge): the complete parts under a prefix, in name order, in
    blocks of at most the size asked; the checkpoint objects and other keys are not
    parts; put together, the blocks of each part are its object."""
    use_emu(emu)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
    s = SweepSettings.build(
        accounts="org", regions="all", start_time=from_epoch(START), end_time=from_epoch(END),
        output_dir=f"s3://{bucket}/read", part_size="64KiB",
    )  # fmt: skip
    _sweep(s)
    s3.put(bucket, "read/notes.txt", b"not a part\n")
    s3.put(bucket, "read/deeper/trailsweep-20260101T000000Z-000009.ndjson", b"{}\n")

    async def run() -> list[tuple[str, bytes]]:
        return [item async for item in read_parts(f"s3://{bucket}/read", block=4096)]

    got = anyio.run(run)
    names = [k.rpartition("/")[2] for k in _parts(s3, bucket, "read")]
    assert list(dict.fromkeys(n for n, _ in got)) == names and len(names) > 3
    assert all(len(block) <= 4096 for _, block in got)
    for name in names:
        assert b"".join(b for n, b in got if n == name) == s3.get(bucket, f"read/{name}")
    assert b"".join(b for _, b in got) == _truth(emu)


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("s3://", "names no bucket"),
        ("s3:///prefix", "names no bucket"),
        ("s3://Bad_Bucket/p", "is not an S3 bucket name"),
        ("s3://no-such-bucket-here/p", "the bucket does not exist"),
    ],
)
def test_bad_s3_urls_are_one_line_exit_2_before_any_call(
    emu: EmulatorThread, use_emu: UseEmu, s3: MotoS3, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], url: str, needle: str,
) -> None:  # fmt: skip
    """A URL without a bucket, a bucket name S3 cannot have, a bucket the server does not
    have: one line naming it, exit 2, no LookupEvents (no emulator call at all)."""
    use_emu(emu)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
    calls = emu.emulator.requests
    with pytest.raises(SystemExit) as exit_info:
        main(_args("--output-dir", url))
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trailsweep: error: "), captured.err
    assert needle in lines[0]
    assert emu.emulator.requests == calls


def test_state_and_follow_are_refused_with_s3(bucket: str) -> None:
    """--state and --follow keep to a local directory: refused naming the flag."""
    for extra in (["--state", "s.json"], ["--follow"]):
        done = run_here(["sweep", "--output-dir", f"s3://{bucket}/x", *extra])
        assert done.returncode == 2
        assert done.stderr.decode().count("\n") == 1 and extra[0] in done.stderr.decode()


def test_another_run_writing_the_checkpoint_stops_this_one(
    emu: EmulatorThread, use_emu: UseEmu, s3: MotoS3, bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Two runs on one prefix (one writer per prefix is the user's job): the checkpoint
    changed under a run (another's put) stops it at its next part, OutputFailed naming
    the other run, rather than overwriting it."""
    use_emu(emu)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
    s = SweepSettings.build(
        accounts="org", regions="all", start_time=from_epoch(START), end_time=from_epoch(END),
        output_dir=f"s3://{bucket}/two", part_size="16KiB",
    )  # fmt: skip
    job = prepare_s3_parts(s, spec_of(s))
    s3.put(bucket, f"two/{MAIN}", b"another run's checkpoint\n")  # written meanwhile
    with pytest.raises(OutputFailed, match="another run is writing there"), unwrapped():
        anyio.run(lambda: run_parts(job, SweepReport()))
