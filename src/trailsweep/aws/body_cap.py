"""A cap on the size of a LookupEvents response body, on both call paths.

The largest honest page is about 100 KB (50 events of at most a few KB each); a server that
sends an endless or huge body must fail its pair (page_check.InvalidResponse) once the cap
is passed, without the rest being read into memory: a Content-Length over the cap is refused
before reading, a body without one is read chunk by chunk and the connection closed (not
drained) once it is over. Counted after decompression, so a small compressed bomb is caught
too.

- The lean path (lean.py) reads its responses with `read_capped`.
- The aioboto3 path gets `CappedAIOHTTPSession` through `client.lookup_config`: aiobotocore's
  own session reads every non-streaming body whole (`await http_response.content`); this one
  asks it to leave the body alone and reads it with `read_capped` instead.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiobotocore.httpsession import AIOHTTPSession

from trailsweep.aws.page_check import InvalidResponse

MAX_BODY = 16 << 20


def _too_large(size: int, limit: int) -> InvalidResponse:
    return InvalidResponse(
        f"the response body is over {limit:,} bytes ({size:,} read or announced); the "
        "largest page LookupEvents sends is about 100 KB"
    )


async def read_capped(response: aiohttp.ClientResponse, limit: int = MAX_BODY) -> bytes:
    """The whole body of `response`, or InvalidResponse as soon as it is over `limit` bytes
    (the connection is then closed, not read to its end)."""
    announced = response.content_length
    if announced is not None and announced > limit:
        response.close()
        raise _too_large(announced, limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            response.close()
            raise _too_large(size, limit)
        parts.append(chunk)
    return b"".join(parts)


class CappedAIOHTTPSession(AIOHTTPSession):  # type: ignore[misc]
    """aiobotocore's HTTP session, reading response bodies with `read_capped`."""

    async def send(self, request: Any) -> Any:
        streaming = request.stream_output
        request.stream_output = True  # "do not read the body": we read it, capped, below
        try:
            response = await super().send(request)
        finally:
            request.stream_output = streaming
        if not streaming:
            # What AioAWSResponse.content caches after reading raw (an aiohttp response).
            response._content = await read_capped(response.raw)
        return response
