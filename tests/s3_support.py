"""A real S3 API for tests: moto's standalone server on 127.0.0.1, and a plain boto3
client on it to set up buckets and look at what a run left there (never the client
under test: that is trailsweep's own aioboto3 client, pointed here by
AWS_ENDPOINT_URL_S3 as a user points it at an S3-compatible store)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

# moto takes any keys; the bucket's region is the emulator's (support.aws_env).
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class MotoS3:
    """The running server: its URL and a boto3 client on it."""

    url: str
    client: Any

    def make_bucket(self, name: str) -> str:
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key listed under `prefix`, in key order (what a reader of the bucket sees)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def get(self, bucket: str, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def uploads(self, bucket: str) -> list[str]:
        """Keys of the multipart uploads in progress (never listed as objects)."""
        found = self.client.list_multipart_uploads(Bucket=bucket)
        return sorted(u["Key"] for u in found.get("Uploads", []))


@contextmanager
def moto_s3() -> Iterator[MotoS3]:
    """moto's server on 127.0.0.1 on a free port, started (its own start returns once it
    listens) and stopped around the block."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        client = boto3.client("s3", endpoint_url=url, region_name=REGION, **KEYS)
        yield MotoS3(url, client)
    finally:
        server.stop()
