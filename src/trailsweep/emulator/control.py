"""The control API under /_emulator/: what tests and benchmarks use to look and to meddle.

GET  /_emulator/world         accounts, regions, management credentials
GET  /_emulator/stats         per-pair counters;  POST /_emulator/stats/reset
GET  /_emulator/faults        current limits and faults;  POST a JSON patch to change them
GET  /_emulator/truth?account=&region=[&start=&end=&key=&value=&category=insight]
                              exactly what a complete LookupEvents query returns
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from trailsweep.errors import InputError

if TYPE_CHECKING:
    from trailsweep.emulator.server import Emulator


def _json(obj: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(obj), content_type="application/json")


def control_routes(emu: Emulator) -> list[web.RouteDef]:
    async def world(_: web.Request) -> web.Response:
        return _json(
            {
                **emu.ready_info(),
                "now": emu.data_now(),
                "accounts": [
                    {"id": a.id, "name": a.name, "status": a.status} for a in emu.world.accounts
                ],
                "regions": {a.id: emu.world.enabled_regions(a.id) for a in emu.world.accounts},
            }
        )

    async def stats(_: web.Request) -> web.Response:
        return _json(emu.quota.as_dict())

    async def reset(_: web.Request) -> web.Response:
        emu.quota.reset()
        return _json({"reset": True})

    async def faults(request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                patch = orjson.loads(await request.read())
                if not isinstance(patch, dict):
                    raise InputError("the body must be a JSON object of fault settings")
                emu.faults.update(patch)
            except (orjson.JSONDecodeError, InputError) as err:
                return _json({"error": str(err)}, 400)
        return _json(emu.faults.as_dict())

    async def truth(request: web.Request) -> web.Response:
        q = request.query
        try:
            account, region = q["account"], q["region"]
            start = int(q["start"]) if "start" in q else None
            end = int(q["end"]) if "end" in q else None
        except (KeyError, ValueError):
            return _json({"error": "truth needs account, region and integer start/end"}, 400)
        attribute = (q["key"], q.get("value", "")) if "key" in q else None
        events = emu.truth(
            account, region, start=start, end=end, attribute=attribute,
            insight=q.get("category") == "insight",
        )  # fmt: skip
        return _json({"Events": events})

    return [
        web.get("/_emulator/world", world),
        web.get("/_emulator/stats", stats),
        web.post("/_emulator/stats/reset", reset),
        web.get("/_emulator/faults", faults),
        web.post("/_emulator/faults", faults),
        web.get("/_emulator/truth", truth),
    ]
