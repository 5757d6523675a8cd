"""Parts on S3 (`--output-dir s3://bucket/prefix`): each part one object, put once whole.

A part is written exactly as into a directory (parts.py), but in a private local
staging directory; once closed and fsynced it is put as ONE object under the prefix
(aws/s3.py: one PutObject, or a multipart upload above 64 MiB, aborted if it fails),
so no partial object is ever listed. The checkpoint is an object beside the parts,
`PREFIX/.trailsweep.checkpoint.json`, in the format of a directory's.

Exactly once across a kill (docs/design.md invariant 5). A directory commits, then
renames the part it kept under a temp name. On S3 the local staging file dies with the
pod, so the part must be on S3 before the run can count on it; and an object must never
be visible that no checkpoint can account for. So closing a part is (`place`):

1. the checkpoint with the part recorded (every cursor after its last line) is put as
   `PREFIX/.trailsweep.checkpoint.next.json`: the part is coming;
2. the part is put under its final name, whole, only if that key is free;
3. the same checkpoint is put as `PREFIX/.trailsweep.checkpoint.json`: done.

Killed before 2 completes: no object (S3 shows an object whole or not at all); the next
run takes the main checkpoint, whose cursors are before the part, and writes its lines
again. Killed after 2, before 3: the next run finds the `next` checkpoint one part ahead
of the main one and that part's object there with its recorded size and sha256 (object
metadata), and takes the `next` checkpoint as the main one (`recover`): the part is not
written again. The checkpoint is written at no other time while a part is coming.

One writer per prefix. Decision: no lock object. S3 has no lock that a killed writer
gives back (a lock object left by a SIGKILLed pod would refuse the retry Kubernetes or
AWS Batch start for the same index), so keeping one run per prefix is the user's job:
each shard its own prefix, as the README's Kubernetes and Batch commands do. Two runs
that meet anyway do not corrupt the prefix: parts are put only where no object is
(If-None-Match), and each checkpoint write is conditional on the checkpoint's ETag as
this run last read or wrote it (If-Match), so the run that finds the checkpoint changed
under it stops (exit 1) naming the prefix.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal

from trailsweep.aws.s3 import BLOCK, MULTIPART_AT, Listed, S3Access, S3Error, S3Objects
from trailsweep.base.errors import (
    CheckpointNotSaved,
    CredentialsError,
    InputError,
    OutputFailed,
    ServerFailed,
    TrailsweepError,
)
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.output.checkpoint import Checkpoint
from trailsweep.output.parts import PART_NAME, PartInfo
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.s3_url import S3Location, parse_s3_url

MAIN = ".trailsweep.checkpoint.json"
NEXT = ".trailsweep.checkpoint.next.json"


def access_of(cfg: SweepSettings) -> S3Access:
    """S3 as the sweep's own credentials reach it (aws/s3.py: the chain, the endpoint)."""
    return S3Access(
        profile=cfg.profile, region=cfg.region, access_key_id=cfg.access_key_id,
        secret_access_key=cfg.secret_access_key, timeouts=cfg.timeouts,
    )  # fmt: skip


def user_error(err: S3Error, doing: str, *, started: bool) -> TrailsweepError:
    """What an S3 failure means for the user: credentials and a bucket that is not there
    or not ours are bad input (exit 2); a failure once parts are being written is
    OutputFailed (exit 1, the checkpoint keeps what was closed); before, a server that
    does not answer is ServerFailed (exit 1)."""
    text = f"{doing}: {err}"
    if err.credentials:
        return CredentialsError(f"{text}; configure credentials (--profile or AWS_*)")
    if err.code == "PreconditionFailed":
        return OutputFailed(
            f"{text}: another run is writing there; give each run its own prefix (the "
            "checkpoint keeps what this one closed)"
        )
    if not started and (err.code in ("NoSuchBucket", "404") or err.status == 404):
        return InputError(f"{doing}: the bucket does not exist; create it, or name another")
    if not started and err.status in (301, 400, 403):
        return InputError(f"{text}; check the bucket's name, region and your access to it")
    if started:
        return OutputFailed(
            f"{text}; the checkpoint keeps the parts closed whole: run the same command "
            "again to resume"
        )
    return ServerFailed(text)


class S3PartStore:
    """Parts under `location` (module docstring), driven from synchronous code: the
    aioboto3 client runs on its own event loop in a thread of this store. Decision: a
    part's close blocks the sweep until its object is put, as a directory's fsync
    does (a close is rare: one per --part-size), which keeps PartWriter synchronous."""

    def __init__(
        self, location: S3Location, access: S3Access, *, multipart_at: int = MULTIPART_AT
    ) -> None:
        self.location = location
        self._stack = ExitStack()
        self.staging = Path(self._stack.enter_context(_staging()))
        try:
            self._portal = self._stack.enter_context(start_blocking_portal())
            client = self._stack.enter_context(
                self._portal.wrap_async_context_manager(access.client())
            )
        except S3Error as err:
            self._stack.close()
            raise user_error(err, f"--output-dir {location}", started=False) from None
        except BaseException:
            self._stack.close()
            raise
        self.objects = S3Objects(client, multipart_at=multipart_at)
        self.etags: dict[str, str | None] = {MAIN: None, NEXT: None}  # as last read/written
        self.started = False  # parts are being written: failures are OutputFailed
        self._coming: bytes | None = None  # the checkpoint `place` is putting

    def __str__(self) -> str:
        return self.location.url

    def url(self, name: str) -> str:
        return f"{self.location.url}/{name}"

    def call(self, doing: str, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` on the store's loop; an S3Error said as `user_error`."""
        try:
            return self._portal.call(fn, *args)
        except S3Error as err:
            raise user_error(err, doing, started=self.started) from None

    def check_bucket(self) -> None:
        self.call(f"--output-dir {self.location}", self.objects.head_bucket, self.location.bucket)

    def read(self, name: str) -> Checkpoint | None:
        """The checkpoint object `name` (MAIN or NEXT), its ETag kept; None if absent."""
        loc = self.location
        found = self.call(
            f"cannot read {self.url(name)}", self.objects.get, loc.bucket, loc.key(name)
        )
        if found is None:
            return None
        raw, self.etags[name] = found
        return ckpt_mod.parse(raw, self.url(name))

    def listing(self) -> dict[str, int]:
        """The part objects directly under the prefix: name -> size."""
        loc = self.location
        found: list[Listed] = self.call(
            f"cannot list {loc}", self.objects.listing, loc.bucket, loc.listing
        )
        names = {o.key[len(loc.listing) :]: o.size for o in found}
        return {n: size for n, size in names.items() if PART_NAME.fullmatch(n)}

    def head(self, name: str) -> tuple[int, dict[str, str]] | None:
        loc = self.location
        found: tuple[int, dict[str, str]] | None = self.call(
            f"cannot read {self.url(name)}", self.objects.head, loc.bucket, loc.key(name)
        )
        return found

    def abort_uploads(self) -> int:
        loc = self.location
        aborted: int = self.call(
            f"cannot list the uploads under {loc}", self.objects.abort_uploads, loc.bucket,
            loc.listing,
        )  # fmt: skip
        return aborted

    def put_checkpoint(self, name: str, data: bytes) -> None:
        loc = self.location
        try:
            self.etags[name] = self._portal.call(
                _put, self.objects, loc.bucket, loc.key(name), data, self.etags[name]
            )
        except S3Error as err:
            found = user_error(err, f"cannot save the checkpoint {self.url(name)}", started=True)
            if isinstance(found, OutputFailed) and not isinstance(found, CheckpointNotSaved):
                raise CheckpointNotSaved(str(found)) from None
            raise found from None

    def save_checkpoint(self, ckpt: Checkpoint) -> None:
        """The main checkpoint; while a part is being placed, the `next` one (step 1)."""
        data = ckpt_mod.sealed(ckpt)
        if self._coming is not None:
            self._coming = data
            self.put_checkpoint(NEXT, data)
        else:
            self.put_checkpoint(MAIN, data)

    def place(self, temp: Path, info: PartInfo, commit: Callable[[PartInfo], None]) -> None:
        """Steps 1 to 3 of the module docstring; the staging file removed after."""
        self.started = True
        self._coming = b""
        try:
            commit(info)  # the owner's record: saved as NEXT by save_checkpoint
            coming = self._coming
        finally:
            self._coming = None
        loc = self.location
        metadata = {"sha256": info.sha256, "lines": str(info.lines), "size": str(info.size)}
        with temp.open("rb") as file:
            self.call(
                f"cannot put the part {self.url(info.name)}", self.objects.upload, loc.bucket,
                loc.key(info.name), file, info.stored, metadata,
            )  # fmt: skip
        self.put_checkpoint(MAIN, coming)
        temp.unlink(missing_ok=True)

    def release(self) -> None:
        """Close the client and its thread; remove the staging directory."""
        self._stack.close()


async def _put(objects: S3Objects, bucket: str, key: str, data: bytes, match: str | None) -> str:
    return await objects.put(bucket, key, data, match=match)


@contextmanager
def _staging() -> Iterator[str]:
    """A private local directory (mkdtemp: mode 0700) for the part being written, removed
    at the end (what a killed run leaves there is in the system's temp directory)."""
    path = tempfile.mkdtemp(prefix="trailsweep-parts-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def complete_parts(objects: S3Objects, location: S3Location) -> list[Listed]:
    """The complete parts directly under `location`, in name order (the order they were
    written, parts.py): only whole objects are ever listed, so these are all there is."""
    found = await objects.listing(location.bucket, location.listing)
    cut = len(location.listing)
    return [o for o in found if PART_NAME.fullmatch(o.key[cut:])]


async def read_parts(
    url: str, access: S3Access | None = None, *, block: int = BLOCK
) -> AsyncIterator[tuple[str, bytes]]:
    """The bytes of every complete part under `url` (s3://bucket/prefix), part after part
    in name order, `block` bytes at a time: (the part's name, a block). Memory is one
    block, whatever the parts' sizes. The bytes are as stored (.gz and .zst parts come
    compressed). Raises InputError for a bad URL, as user_error says for S3's failures."""
    location = parse_s3_url(url, "s3 parts")
    access = access or S3Access()
    try:
        async with access.client() as client:
            objects = S3Objects(client)
            await objects.head_bucket(location.bucket)
            cut = len(location.listing)
            for part in await complete_parts(objects, location):
                async for data in objects.blocks(location.bucket, part.key, block):
                    yield part.key[cut:], data
    except S3Error as err:
        raise user_error(err, f"cannot read the parts in {url}", started=False) from None
