"""Dishonest servers for tests: tampers for `EmulatorThread.set_tamper` (emulator/tamper.py).

Each function returns a tamper; the emulator still authenticates every request, and
anything a tamper does not touch gets the honest answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import orjson
from aiohttp import web

from trailsweep.emulator.tamper import Call, Honest, Tamper

AMZ_JSON = "application/x-amz-json-1.1"


def answer(body: bytes | str, status: int = 200, content_type: str = AMZ_JSON) -> web.Response:
    """A response with exactly this body."""
    data = body.encode() if isinstance(body, str) else body
    return web.Response(body=data, status=status, headers={"Content-Type": content_type})


def json_answer(doc: Any, status: int = 200, content_type: str = AMZ_JSON) -> web.Response:
    return answer(orjson.dumps(doc), status, content_type)


def on(operation: str, respond: Callable[[Call], web.StreamResponse]) -> Tamper:
    """Answer `operation` with `respond(call)`; everything else honestly."""

    async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation != operation:
            return await honest()
        return respond(call)

    return tamper


def rewrite_pages(rewrite: Callable[[dict[str, Any], Call], dict[str, Any]]) -> Tamper:
    """Take each honest LookupEvents page (a parsed JSON object) and answer `rewrite(page)`."""

    async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
        response = await honest()
        if call.operation != "LookupEvents" or response.status != 200:
            return response
        assert isinstance(response, web.Response) and response.body is not None
        page = orjson.loads(cast(bytes, response.body))  # an honest answer's body is bytes
        return json_answer(rewrite(page, call))

    return tamper
