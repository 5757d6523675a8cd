"""The control API under /_emulator/: what tests and benchmarks use to look and to meddle.

Every request carries `Authorization: Bearer <control_token>` (the ready line's token,
`Emulator.control_token`), or gets 401 and a JSON error. On every bind, loopback
included: any local user, and any web page open in a local browser (a plain POST needs
no CORS preflight), can reach 127.0.0.1, and the faults rewrite what a test sees. The
token goes in a header, never the URL, so it stays out of logs and browser history.

GET  /_emulator/world         accounts, regions, the management access key id, the
                              organization's tree (root id, OUs with their parents,
                              each account's parent);
                              [?secrets=1] also its secret access key
GET  /_emulator/stats         per-pair counters;  POST /_emulator/stats/reset
GET  /_emulator/faults        current limits and faults;  POST a JSON patch to change them
GET  /_emulator/truth?account=&region=[&start=&end=&key=&value=&category=insight]
                              exactly what a complete LookupEvents query returns
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from aiohttp import web

from trailsweep.emulator.quota import Quota
from trailsweep.emulator.settings import Faults, SettingsError
from trailsweep.emulator.world import World


class Controlled(Protocol):
    """What the control API reads and changes of an emulator (`server.Emulator` is one):
    stated here, so that the server imports its control routes and not the other way."""

    control_token: str
    world: World
    quota: Quota
    faults: Faults

    def ready_info(self) -> dict[str, Any]: ...

    def public_info(self) -> dict[str, Any]: ...

    def data_now(self) -> int: ...

    def truth(
        self, account: str, region: str, *, start: int | None = None, end: int | None = None,
        attribute: tuple[str, str] | None = None, insight: bool = False,
    ) -> list[dict[str, Any]]: ...  # fmt: skip


def _json(obj: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(obj), content_type="application/json")


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _guarded(emu: Controlled, handler: Handler) -> Handler:
    """`handler` for requests that carry the control token; 401 for the rest."""
    expected = b"Bearer " + emu.control_token.encode()

    async def guard(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            return web.Response(
                status=401,
                body=orjson.dumps(
                    {"error": "the control API needs 'Authorization: Bearer <control_token>', "
                     "the control_token of the emulator's ready line"}
                ),
                content_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="trailsweep emulator"'},
            )  # fmt: skip
        return await handler(request)

    return guard


def control_routes(emu: Controlled) -> list[web.RouteDef]:
    """The routes of the control API, each behind the control token."""
    api = _ControlApi(emu)

    def guarded(handler: Handler) -> Handler:
        return _guarded(emu, handler)

    return [
        web.get("/_emulator/world", guarded(api.world)),
        web.get("/_emulator/stats", guarded(api.stats)),
        web.post("/_emulator/stats/reset", guarded(api.reset)),
        web.get("/_emulator/faults", guarded(api.faults)),
        web.post("/_emulator/faults", guarded(api.faults)),
        web.get("/_emulator/truth", guarded(api.truth)),
    ]


class _ControlApi:
    """The handlers of the control API, one per route, over one emulator."""

    def __init__(self, emu: Controlled) -> None:
        self.emu = emu

    async def world(self, request: web.Request) -> web.Response:
        # The secret key only when asked: a dump of /world pasted into a bug report or a
        # log carries the key id (which names the account), not the means to sign.
        emu = self.emu
        info = emu.ready_info() if request.query.get("secrets") == "1" else emu.public_info()
        info.pop("control_token", None)  # the caller holds it already
        return _json(
            {
                **info,
                "now": emu.data_now(),
                "accounts": [
                    {"id": a.id, "name": a.name, "status": a.status} for a in emu.world.accounts
                ],
                "regions": {a.id: emu.world.enabled_regions(a.id) for a in emu.world.accounts},
                "organization": {
                    "root": emu.world.root_id,
                    "units": [
                        {"id": u.id, "name": u.name, "parent": u.parent} for u in emu.world.units
                    ],
                    "parents": emu.world.parent_of,
                },
            }
        )

    async def stats(self, _: web.Request) -> web.Response:
        return _json(self.emu.quota.as_dict())

    async def reset(self, _: web.Request) -> web.Response:
        self.emu.quota.reset()
        return _json({"reset": True})

    async def faults(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                patch = orjson.loads(await request.read())
                if not isinstance(patch, dict):
                    raise SettingsError("the body must be a JSON object of fault settings")
                self.emu.faults.update(patch)
            except (orjson.JSONDecodeError, SettingsError) as err:
                return _json({"error": str(err)}, 400)
        return _json(self.emu.faults.as_dict())

    async def truth(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            account, region = q["account"], q["region"]
            start = int(q["start"]) if "start" in q else None
            end = int(q["end"]) if "end" in q else None
        except (KeyError, ValueError):
            return _json({"error": "truth needs account, region and integer start/end"}, 400)
        attribute = (q["key"], q.get("value", "")) if "key" in q else None
        events = self.emu.truth(
            account, region, start=start, end=end, attribute=attribute,
            insight=q.get("category") == "insight",
        )  # fmt: skip
        return _json({"Events": events})
