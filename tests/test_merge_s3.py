"""`trailsweep merge` with s3:// inputs and `-o s3://bucket/key`, against moto's server
through trailsweep's own aioboto3 client (AWS_ENDPOINT_URL_S3): the parts under each
prefix read as a directory of parts is read, the merge put as one object, and every
refusal one line, exit 2, before any object is read, nothing put."""

from __future__ import annotations

import gzip
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import zstandard

from trailsweep.emulator import EmulatorThread
from trailsweep.output.merge_s3 import S3Merge
from trailsweep.settings.s3_url import parse_s3_url

from inproc import run_here
from s3_support import KEYS, REGION, MotoS3
from support import NOW_EPOCH, aws_env, expected_ndjson, settings

START, END = NOW_EPOCH - 3 * 3600, NOW_EPOCH - 1
PARTS = ("trailsweep-20250101T000000Z-{:06d}.ndjson{}",)


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    """2 accounts x 2 regions; its truth is what the shards' parts hold (no sweep runs)."""
    with EmulatorThread(settings(members=1, suspended=0)) as running:
        yield running


@pytest.fixture
def bucket(s3: MotoS3) -> str:
    return s3.make_bucket(f"merge-{uuid.uuid4().hex[:16]}")


def _pairs(emu: EmulatorThread) -> list[tuple[str, str]]:
    accounts = sorted(a.id for a in emu.emulator.world.accounts)
    return [(a, r) for a in accounts for r in ("eu-west-1", "us-east-1")]


def _truth(emu: EmulatorThread) -> bytes:
    return expected_ndjson(emu, _pairs(emu), start=START, end=END)


def _compress(suffix: str, data: bytes) -> bytes:
    if suffix == ".gz":
        return gzip.compress(data, mtime=0)
    if suffix == ".zst":
        return zstandard.ZstdCompressor().compress(data)
    return data


def _put_shards(emu: EmulatorThread, s3: MotoS3, bucket: str, shards: int) -> list[str]:
    """The truth dealt over `shards` by pair (pair i to shard i % shards), each shard's
    lines (in their order) cut into parts of 40 lines, plain, .gz and .zst in turn, put
    under s3://bucket/run/shard-I; the prefixes' URLs. The shards of one sweep, as far
    as merge can tell (each sorted, pairs disjoint)."""
    owner = {pair: i % shards for i, pair in enumerate(_pairs(emu))}
    lines: list[list[bytes]] = [[] for _ in range(shards)]
    for line in _truth(emu).splitlines(keepends=True):
        doc = orjson.loads(line)
        lines[owner[doc["account"], doc["region"]]].append(line)
    urls = []
    for index, mine in enumerate(lines):
        for number, at in enumerate(range(0, len(mine), 40), start=1):
            suffix = ("", ".gz", ".zst")[number % 3]
            name = PARTS[0].format(number, suffix)
            data = _compress(suffix, b"".join(mine[at : at + 40]))
            s3.put(bucket, f"run/shard-{index}/{name}", data)
        s3.put(bucket, f"run/shard-{index}/.trailsweep.checkpoint.json", b"{}")
        urls.append(f"s3://{bucket}/run/shard-{index}")
    return urls


def _env(emu: EmulatorThread, s3: MotoS3) -> dict[str, str]:
    return aws_env(emu, AWS_ENDPOINT_URL_S3=s3.url)


@pytest.mark.parametrize("name", ["org.ndjson.gz", "org.ndjson", "org.ndjson.zst"])
def test_s3_prefixes_merge_into_one_object_of_the_unsharded_bytes(
    emu: EmulatorThread, s3: MotoS3, bucket: str, name: str
) -> None:
    """Three prefixes of parts (plain, .gz, .zst; the checkpoint objects beside them not
    read) merge into -o s3://bucket/run/NAME: one object, decompressed the truth."""
    urls = _put_shards(emu, s3, bucket, 3)
    done = run_here(["merge", *urls, "-o", f"s3://{bucket}/run/{name}"], env=_env(emu, s3))
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b""
    data = s3.get(bucket, f"run/{name}")
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    elif name.endswith(".zst"):
        data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    assert data == _truth(emu)
    assert s3.uploads(bucket) == []


def test_s3_and_local_inputs_merge_to_stdout_and_to_a_local_file(
    emu: EmulatorThread, s3: MotoS3, bucket: str, tmp_path: Path
) -> None:
    """An s3:// input beside a local NDJSON file: stdout and a local -o hold the truth."""
    urls = _put_shards(emu, s3, bucket, 2)
    local = tmp_path / "shard-1.ndjson"
    keys = [k for k in s3.keys(bucket, "run/shard-1/") if "trailsweep-" in k]
    local.write_bytes(
        b"".join(
            gzip.decompress(s3.get(bucket, k)) if k.endswith(".gz")
            else zstandard.ZstdDecompressor().stream_reader(io.BytesIO(s3.get(bucket, k))).read()
            if k.endswith(".zst") else s3.get(bucket, k)
            for k in keys
        )
    )  # fmt: skip
    env = _env(emu, s3)
    done = run_here(["merge", urls[0], str(local)], env=env)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == _truth(emu)
    out = tmp_path / "all.ndjson"
    assert run_here(["merge", urls[0], str(local), "-o", str(out)], env=env).returncode == 0
    assert out.read_bytes() == _truth(emu)


def test_an_existing_key_is_kept_unless_overwrite(
    emu: EmulatorThread, s3: MotoS3, bucket: str
) -> None:
    urls = _put_shards(emu, s3, bucket, 2)
    s3.put(bucket, "run/org.ndjson", b"old\n")
    env = _env(emu, s3)
    refused = run_here(["merge", *urls, "-o", f"s3://{bucket}/run/org.ndjson"], env=env)
    assert refused.returncode == 2
    assert refused.stderr.decode().count("\n") == 1
    assert "exists; it is kept" in refused.stderr.decode()
    assert s3.get(bucket, "run/org.ndjson") == b"old\n"
    args = ["merge", *urls, "-o", f"s3://{bucket}/run/org.ndjson", "--overwrite"]
    done = run_here(args, env=env)
    assert done.returncode == 0, done.stderr.decode()
    assert s3.get(bucket, "run/org.ndjson") == _truth(emu)


@pytest.mark.parametrize(
    ("inputs", "output", "says"),
    [
        (["s3://Bad_Bucket/run/shard-0"], None, "is not an S3 bucket name"),
        (["s3://"], None, "names no bucket"),
        (["s3://no-such-bucket-here/run/shard-0"], None, "the bucket does not exist"),
        (["s3://{b}/run/shard-9"], None, "there is no object under"),
        (["s3://{b}/run/shard-0", "s3://{b}/run/shard-0/"], None, "the same as"),
        (["s3://{b}/run/shard-0"], "s3://{b}", "names no object"),
        (["s3://{b}/run/shard-0"], "s3://{b}/run/", "names no object"),
        (["s3://{b}/run/shard-0"], "s3://{b}/run/org.ndjson.bz2", "only .gz and .zst"),
        (["s3://{b}/run/shard-0"], "s3://no-such-bucket-here/org.ndjson", "does not exist"),
    ],
)
def test_bad_urls_and_buckets_are_one_line_exit_2_and_nothing_put(
    emu: EmulatorThread, s3: MotoS3, bucket: str, inputs: list[str], output: str | None,
    says: str,
) -> None:  # fmt: skip
    _put_shards(emu, s3, bucket, 1)
    before = s3.keys(bucket)
    args = ["merge", *(i.format(b=bucket) for i in inputs)]
    if output is not None:
        args += ["-o", output.format(b=bucket)]
    done = run_here(args, env=_env(emu, s3))
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert says in err
    assert done.stdout == b""
    assert s3.keys(bucket) == before


def test_a_check_that_fails_midway_puts_no_object(
    emu: EmulatorThread, s3: MotoS3, bucket: str
) -> None:
    """A part out of order (its lines reversed) in the second prefix: exit 2 naming the
    part's URL, and no -o object, whole or partial."""
    urls = _put_shards(emu, s3, bucket, 2)
    key = next(k for k in s3.keys(bucket, "run/shard-1/") if k.endswith("000001.ndjson.gz"))
    lines = gzip.decompress(s3.get(bucket, key)).splitlines(keepends=True)
    s3.put(bucket, key, gzip.compress(b"".join(reversed(lines))))
    done = run_here(["merge", *urls, "-o", f"s3://{bucket}/run/org.ndjson"], env=_env(emu, s3))
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert f"s3://{bucket}/{key}" in err and err.count("\n") == 1
    assert "run/org.ndjson" not in s3.keys(bucket)
    assert s3.uploads(bucket) == []


def test_a_large_merge_goes_up_in_a_multipart_upload(
    s3: MotoS3, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the multipart size (here 1 KiB) the -o object is one multipart upload,
    completed: the object whole, no upload left."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEYS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", KEYS["aws_secret_access_key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    data = b"".join(b'{"n":%d}\n' % i for i in range(5000))
    merging = S3Merge(multipart_at=1024)
    try:
        target = merging.target(parse_s3_url(f"s3://{bucket}/big.ndjson"), overwrite=False)
        target.write(data)
        target.commit()
    finally:
        merging.close()
    assert s3.get(bucket, "big.ndjson") == data
    assert s3.uploads(bucket) == []
    # S3's ETag of a multipart object is its parts' digest, then "-" and their count.
    assert s3.client.head_object(Bucket=bucket, Key="big.ndjson")["ETag"].endswith('-1"')
