"""S3 through aioboto3: the few calls that parts on S3 need (output/s3_store.py).

The client comes from the same credential chain as the rest of a sweep (aws/sessions.py):
`--profile`, or the keys a program gave, else the environment and config files; its
region is `--region` or the profile's. Decision: the sweep's `--endpoint-url` is not
S3's (it names the CloudTrail endpoint, or an emulator of it); an S3-compatible store,
or a test's S3 server, is named the standard AWS way, `AWS_ENDPOINT_URL_S3` (or the
profile's `services` section), which botocore reads itself, so no flag of ours is needed.

What goes wrong comes back as `S3Error` (the code S3 answered, or what kept the call from
being answered); the caller says what it means for the user.

An object is put whole or not at all: one PutObject up to `MULTIPART_AT` bytes, above it
a multipart upload whose parts become visible together on CompleteMultipartUpload and
which is aborted if anything fails before then. Both are conditional on the key being
free (`If-None-Match: *`), so a part already there is never replaced.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import IO, Any

import aioboto3
import anyio
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from trailsweep.aws.timeouts import control_config
from trailsweep.settings.timeouts import Timeouts

MULTIPART_AT = 64 << 20  # an object above this many bytes goes up in a multipart upload
CHUNK = 16 << 20  # bytes of one part of a multipart upload (S3 wants >= 5 MiB but the last)
_MAX_CHUNKS = 10_000  # S3's most parts in one upload
BLOCK = 1 << 20  # bytes read at a time from an object


class S3Error(Exception):
    """A call S3 refused (`code`: its error code, `status`: the HTTP status) or that got
    no answer (code "" and the reason); `credentials`: no credentials were found."""

    def __init__(
        self, message: str, *, code: str = "", status: int = 0, credentials: bool = False
    ) -> None:
        super().__init__(message)
        self.code, self.status, self.credentials = code, status, credentials


def _error(err: Exception) -> S3Error:
    if isinstance(err, ClientError):
        info = err.response.get("Error", {})
        meta = err.response.get("ResponseMetadata", {})
        code = str(info.get("Code", ""))
        return S3Error(
            f"{code or 'error'}: {info.get('Message', '')}".rstrip(": "),
            code=code, status=int(meta.get("HTTPStatusCode", 0) or 0),
        )  # fmt: skip
    if isinstance(err, NoCredentialsError):
        return S3Error(str(err), credentials=True)
    return S3Error(str(err))


@dataclass(frozen=True, slots=True)
class S3Access:
    """How to reach S3: the sweep's profile, region and explicit keys, its timeouts."""

    profile: str | None = None
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    timeouts: Timeouts = field(default_factory=Timeouts)

    def client(self) -> Any:
        """An aioboto3 S3 client, an async context manager (not yet entered)."""
        try:
            session = aioboto3.Session(
                profile_name=self.profile, region_name=self.region,
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key,
            )  # fmt: skip
        except BotoCoreError as err:  # ProfileNotFound
            raise S3Error(str(err), credentials=True) from None
        return session.client("s3", config=control_config(self.timeouts))


@dataclass(frozen=True, slots=True)
class Listed:
    """An object under a prefix: its key and its size in bytes."""

    key: str
    size: int


class S3Objects:
    """The calls on one open client (`S3Access.client()`, entered)."""

    __slots__ = ("client", "multipart_at")

    def __init__(self, client: Any, *, multipart_at: int = MULTIPART_AT) -> None:
        self.client, self.multipart_at = client, multipart_at

    async def head_bucket(self, bucket: str) -> None:
        try:
            await self.client.head_bucket(Bucket=bucket)
        except (ClientError, BotoCoreError) as err:
            raise _error(err) from None

    async def listing(self, bucket: str, prefix: str) -> list[Listed]:
        """Every object whose key starts with `prefix`, in key order."""
        found: list[Listed] = []
        try:
            pages = self.client.get_paginator("list_objects_v2")
            async for page in pages.paginate(Bucket=bucket, Prefix=prefix):
                found.extend(Listed(o["Key"], int(o["Size"])) for o in page.get("Contents", []))
        except (ClientError, BotoCoreError) as err:
            raise _error(err) from None
        return sorted(found, key=lambda o: o.key)

    async def get(self, bucket: str, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag; None when there is no such key."""
        try:
            answer = await self.client.get_object(Bucket=bucket, Key=key)
            stream = answer["Body"]
            try:
                return bytes(await stream.read()), str(answer["ETag"])
            finally:
                stream.close()
        except (ClientError, BotoCoreError) as err:
            found = _error(err)
            if found.code in ("NoSuchKey", "404"):
                return None
            raise found from None

    async def head(self, bucket: str, key: str) -> tuple[int, dict[str, str]] | None:
        """The object's size and user metadata; None when there is no such key."""
        try:
            answer = await self.client.head_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as err:
            found = _error(err)
            if found.status == 404:
                return None
            raise found from None
        return int(answer["ContentLength"]), dict(answer.get("Metadata", {}))

    async def put(self, bucket: str, key: str, data: bytes, *, match: str | None) -> str:
        """Put `data` at `key` only if the key's ETag is still `match` (None: only if the
        key is free); the new ETag. A changed key is S3Error code PreconditionFailed."""
        cond = {"IfNoneMatch": "*"} if match is None else {"IfMatch": match}
        try:
            answer = await self.client.put_object(Bucket=bucket, Key=key, Body=data, **cond)
        except (ClientError, BotoCoreError) as err:
            raise _error(err) from None
        return str(answer["ETag"])

    async def delete(self, bucket: str, key: str) -> None:
        try:
            await self.client.delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as err:
            raise _error(err) from None

    async def upload(
        self,
        bucket: str,
        key: str,
        file: IO[bytes],
        size: int,
        metadata: dict[str, str],
        *,
        replace: bool = False,
    ) -> None:
        """Put the `size` bytes of `file` (from its start) at the free key `key` as one
        object: whole, or nothing visible (module docstring). With `replace`, whatever is
        at `key` is replaced (`trailsweep merge -o s3://... --overwrite`)."""
        args = {"Bucket": bucket, "Key": key, "Metadata": metadata}
        cond: dict[str, str] = {} if replace else {"IfNoneMatch": "*"}
        try:
            if size <= self.multipart_at:
                body = await anyio.to_thread.run_sync(file.read)
                await self.client.put_object(Body=body, **cond, **args)
                return
            started = await self.client.create_multipart_upload(**args)
        except (ClientError, BotoCoreError) as err:
            raise _error(err) from None
        upload = started["UploadId"]
        try:
            done = await self._chunks(bucket, key, upload, file, size)
            await self.client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done},
                **cond,
            )  # fmt: skip
        except BaseException as err:
            with anyio.CancelScope(shield=True):
                await self._abort(bucket, key, upload)
            if isinstance(err, ClientError | BotoCoreError):
                raise _error(err) from None
            raise

    async def _chunks(
        self, bucket: str, key: str, upload: str, file: IO[bytes], size: int
    ) -> list[dict[str, Any]]:
        """Send `file` in parts of CHUNK bytes (more if 10,000 would not hold it), one in
        memory at a time; the list CompleteMultipartUpload takes."""
        chunk = max(CHUNK, math.ceil(size / _MAX_CHUNKS))
        done: list[dict[str, Any]] = []
        number = 0
        while data := await anyio.to_thread.run_sync(file.read, chunk):
            number += 1
            answer = await self.client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=data
            )
            done.append({"PartNumber": number, "ETag": answer["ETag"]})
        return done

    async def _abort(self, bucket: str, key: str, upload: str) -> None:
        # Failing, it is left for abort_uploads or the bucket's lifecycle rule; never visible.
        with contextlib.suppress(ClientError, BotoCoreError):
            await self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)

    async def abort_uploads(self, bucket: str, prefix: str) -> int:
        """Abort the multipart uploads under `prefix` that a killed run left (invisible,
        but billed); how many."""
        aborted = 0
        try:
            pages = self.client.get_paginator("list_multipart_uploads")
            async for page in pages.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Uploads", []):
                    await self._abort(bucket, item["Key"], item["UploadId"])
                    aborted += 1
        except (ClientError, BotoCoreError) as err:
            raise _error(err) from None
        return aborted

    async def blocks(self, bucket: str, key: str, block: int = BLOCK) -> AsyncIterator[bytes]:
        """The object's bytes, `block` at a time (bounded memory, whatever its size)."""
        try:
            answer = await self.client.get_object(Bucket=bucket, Key=key)
            stream = answer["Body"]
            try:
                while data := await stream.read(block):
                    yield bytes(data)
            finally:
                stream.close()
        except (ClientError, BotoCoreError) as err:
            raise _error(err) from None
