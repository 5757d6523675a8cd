"""`trailsweep merge` on S3: `s3://bucket/prefix` inputs and `-o s3://bucket/key`.

An input `s3://bucket/prefix` is what `sweep --output-dir s3://bucket/prefix` wrote:
its complete parts, in name order, each decompressed as its suffix says, exactly as a
local directory of parts is read (merge_input.py). The objects come from
s3_store.read_parts (the one reader of parts on S3: only whole objects are ever listed,
so every listed part is complete); the checkpoint objects beside them are not read.

`-o s3://bucket/key` (`.gz`/`.zst` compress, as a local -o): the merge is written to a
local temp file first (merge_output.FileTarget, in a private directory), then put as ONE
object (aws/s3.py `upload`: one PutObject, multipart above 64 MiB and aborted on
failure), conditional on the key being free unless `--overwrite`. A merge that fails
puts nothing: no object, no partial object.

Refused before any object is read (InputError, exit 2): a URL that is not
`s3://BUCKET/PREFIX` (s3_url.parse_s3_url), a bucket that does not exist or is not
ours, an input prefix under which there is no object at all (decision: a mistyped
prefix would otherwise merge to nothing and look like a complete empty run; a shard
with no pairs still leaves its checkpoint object, so a real empty shard passes), the
same prefix named twice, an `-o` key that exists without `--overwrite`, or an `-o` key
that is no file name (empty, or ending in `/`).

Credentials: the default chain (environment, profile, instance or pod role: IRSA on
Kubernetes, the job role on AWS Batch), and `AWS_ENDPOINT_URL_S3` for an S3-compatible
store, as for parts on S3 (aws/s3.py). Decision: merge takes no --profile of its own;
`AWS_PROFILE` names one.

The client runs on its own event loop in a thread of `S3Merge` (anyio's blocking
portal), as S3PartStore's does: the merge itself stays synchronous.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal

from trailsweep.aws.s3 import MULTIPART_AT, S3Access, S3Error, S3Objects
from trailsweep.base.errors import InputError, OutputFailed
from trailsweep.output.merge_input import decoded_blocks
from trailsweep.output.merge_output import FileTarget
from trailsweep.output.s3_store import read_parts, user_error
from trailsweep.settings.s3_url import S3Location, is_s3_url, parse_s3_url

__all__ = ["S3Merge", "check_s3_specs", "is_s3_url"]

_NOT_WRITTEN = (".bz2", ".xz")


def check_s3_specs(specs: Sequence[str]) -> None:
    """The s3:// inputs' URLs read, none named twice (no network); InputError otherwise."""
    seen: dict[S3Location, str] = {}
    for spec in specs:
        if not is_s3_url(spec):
            continue
        location = parse_s3_url(spec, "merge")
        before = seen.get(location)
        if before is not None:
            again = "named twice" if before == spec else f"the same as {before}"
            raise InputError(f"merge: {spec} is {again}; name each shard output once")
        seen[location] = spec


def output_location(value: str) -> S3Location:
    """`-o s3://bucket/key` as a location whose prefix is the key (no network)."""
    location = parse_s3_url(value, "-o")
    if not location.prefix or value.endswith("/"):
        raise InputError(f"-o: {value} names no object; write s3://BUCKET/KEY, such as "
                         "s3://my-audit-bucket/run-1/org.ndjson.gz")  # fmt: skip
    if location.prefix.endswith(_NOT_WRITTEN):
        raise InputError(f"-o: {value}: only .gz and .zst are written compressed; rename it")
    return location


class S3Merge:
    """One S3 client for a merge's s3:// inputs and output; `close` ends it all."""

    def __init__(self, access: S3Access | None = None, *, multipart_at: int = MULTIPART_AT) -> None:
        self._stack = ExitStack()
        self._open: list[Generator[tuple[str, bytes], None, None]] = []
        self._access = access or S3Access()
        self._portal = self._stack.enter_context(start_blocking_portal())
        try:
            client = self._stack.enter_context(
                self._portal.wrap_async_context_manager(self._access.client())
            )
        except S3Error as err:
            self._stack.close()
            raise user_error(err, "merge: cannot reach S3", started=False) from None
        except BaseException:
            self._stack.close()
            raise
        self.objects = S3Objects(client, multipart_at=multipart_at)

    def close(self) -> None:
        """Close what is still being read (on the client's loop), then the client."""
        for reading in self._open:
            reading.close()
        self._stack.close()

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` on the client's loop, its S3Error as raised."""
        return self._portal.call(fn, *args)

    def _call(self, doing: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return self._portal.call(fn, *args)
        except S3Error as err:
            raise user_error(err, doing, started=False) from None

    def check_input(self, spec: str) -> None:
        """The bucket is there and the prefix holds at least one object (module)."""
        location = parse_s3_url(spec, "merge")
        self._call(f"merge: {spec}", self.objects.head_bucket, location.bucket)
        found = self._call(
            f"merge: cannot list {spec}", self.objects.listing, location.bucket, location.listing
        )
        if not found:
            raise InputError(
                f"merge: there is no object under {spec}; check the prefix (each shard's "
                "--output-dir)"
            )

    def check_output(self, location: S3Location, *, overwrite: bool) -> None:
        """The bucket is there; the key is free, or `overwrite`."""
        self._call(f"-o {location}", self.objects.head_bucket, location.bucket)
        there = self._call(
            f"-o: cannot read {location}", self.objects.head, location.bucket, location.prefix
        )
        if there is not None and not overwrite:
            raise InputError(
                f"-o: {location} exists; it is kept: choose another -o, or add --overwrite "
                "to replace it"
            )

    def blocks(self, spec: str) -> Iterator[tuple[str, bytes]]:
        """The NDJSON bytes of the parts under `spec`, decompressed, as (part URL, block)."""
        url = parse_s3_url(spec, "merge").url
        stored = self._stored(url)
        self._open.append(stored)
        for name, group in itertools.groupby(stored, key=lambda item: item[0]):
            chunks = io.BufferedReader(_Chunks(data for _, data in group))
            yield from decoded_blocks(chunks, f"{url}/{name}")

    def _stored(self, url: str) -> Generator[tuple[str, bytes], None, None]:
        parts: AsyncIterator[tuple[str, bytes]] = read_parts(url, self._access)
        try:
            while True:
                try:
                    yield self._portal.call(_next, parts)
                except StopAsyncIteration:
                    return
        finally:
            with contextlib.suppress(Exception):
                self._portal.call(_close, parts)

    def target(self, location: S3Location, *, overwrite: bool) -> S3Target:
        return S3Target(self, location, overwrite=overwrite)


async def _next(parts: AsyncIterator[tuple[str, bytes]]) -> tuple[str, bytes]:
    return await parts.__anext__()


async def _close(parts: Any) -> None:
    await parts.aclose()


class S3Target:
    """`-o s3://bucket/key`: a local temp file (compressed as the key's suffix says), put
    as one object on `commit`; `discard` leaves nothing, locally or on S3."""

    def __init__(self, s3: S3Merge, location: S3Location, *, overwrite: bool) -> None:
        self.s3, self.location, self.overwrite = s3, location, overwrite
        self._dir = Path(tempfile.mkdtemp(prefix="trailsweep-merge-"))
        name = location.prefix.rpartition("/")[2]
        self._local = self._dir / name
        try:
            self._file = FileTarget(self._local, overwrite=False)
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def commit(self) -> None:
        self._file.commit()
        loc = self.location
        size = self._local.stat().st_size
        try:
            with self._local.open("rb") as f:
                self.s3.run(_upload, self.s3.objects, loc, f, size, self.overwrite)
        except S3Error as err:
            if err.code == "PreconditionFailed":
                raise InputError(
                    f"-o: {loc} appeared while merging; it is kept: choose another -o, or "
                    "add --overwrite to replace it"
                ) from None
            raise OutputFailed(f"cannot put {loc}: {err}; nothing was put") from None
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)

    def discard(self) -> None:
        self._file.discard()
        shutil.rmtree(self._dir, ignore_errors=True)


async def _upload(
    objects: S3Objects, loc: S3Location, file: io.BufferedReader, size: int, replace: bool
) -> None:
    await objects.upload(loc.bucket, loc.prefix, file, size, {}, replace=replace)


class _Chunks(io.RawIOBase):
    """A readable file over an iterator of byte blocks (one object's), for the
    decompressors of merge_input.py."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        super().__init__()
        self._blocks, self._rest = blocks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            nxt = next(self._blocks, None)
            if nxt is None:
                return 0
            self._rest = nxt
        view = memoryview(buffer).cast("B")
        size = min(len(view), len(self._rest))
        view[:size], self._rest = self._rest[:size], self._rest[size:]
        return size
