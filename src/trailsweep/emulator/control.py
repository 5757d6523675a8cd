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
                    [&as_of=T][&everything=1][&arrivals=1]
                              exactly what a complete LookupEvents query returns now
                              (or once the data clock reads T; everything=1: every
                              event that has happened, arrived or not); arrivals=1
                              adds "Arrivals", each event's arrival time, in order
GET  /_emulator/scenarios     the planted scenarios (scenarios.py), oldest first: each
                              one's Name, Technique, Mitre, Account, Region, StartTime,
                              EndTime (epoch seconds), EventIds and EventNames
GET  /_emulator/clock         the data clock: {"now": epoch seconds, "speed": data
                              seconds per wall second}
POST /_emulator/clock         step it: {"advance": seconds} or {"now": epoch seconds},
                              and/or {"speed": s}; never backwards (400)
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from aiohttp import web

from trailsweep.emulator.dataclock import DataClock, check_speed
from trailsweep.emulator.quota import Quota
from trailsweep.emulator.settings import Faults, SettingsError
from trailsweep.emulator.truth import TruthQuery
from trailsweep.emulator.world import World


class Controlled(Protocol):
    """What the control API reads and changes of an emulator (`server.Emulator` is one):
    stated here, so that the server imports its control routes and not the other way."""

    control_token: str
    world: World
    quota: Quota
    faults: Faults
    data_clock: DataClock

    def ready_info(self) -> dict[str, Any]: ...

    def public_info(self) -> dict[str, Any]: ...

    def data_now(self) -> int: ...

    def truth_document(self, q: TruthQuery, *, arrivals: bool) -> dict[str, Any]: ...

    def scenario_documents(self) -> list[dict[str, Any]]: ...


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
        web.get("/_emulator/clock", guarded(api.clock)),
        web.post("/_emulator/clock", guarded(api.clock)),
        web.get("/_emulator/scenarios", guarded(api.scenarios)),
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

    async def scenarios(self, _: web.Request) -> web.Response:
        return _json({"Scenarios": self.emu.scenario_documents()})

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
            start, end, as_of = (int(q[k]) if k in q else None for k in ("start", "end", "as_of"))
        except (KeyError, ValueError):
            return _json({"error": "truth needs account, region and integer start/end/as_of"}, 400)
        flags = {k: q.get(k, "0") for k in ("everything", "arrivals")}
        if any(v not in ("0", "1") for v in flags.values()):
            return _json({"error": "truth's everything and arrivals take 0 or 1"}, 400)
        attribute = (q["key"], q.get("value", "")) if "key" in q else None
        query = TruthQuery(
            account, region, start, end, attribute, q.get("category") == "insight", as_of,
            everything=flags["everything"] == "1",
        )  # fmt: skip
        return _json(self.emu.truth_document(query, arrivals=flags["arrivals"] == "1"))

    async def clock(self, request: web.Request) -> web.Response:
        """The data clock; a POST steps it ("advance" or "now") and/or sets its "speed"."""
        clock = self.emu.data_clock
        if request.method == "POST":
            try:
                step = orjson.loads(await request.read())
                if not isinstance(step, dict) or not step or set(step) - _CLOCK_KEYS:
                    raise SettingsError(
                        'the body must be a JSON object of "advance" (seconds) or "now" '
                        '(epoch seconds), and/or "speed" (data seconds per wall second)'
                    )
                if "advance" in step and "now" in step:
                    raise SettingsError('give "advance" or "now", not both')
                _step(clock, step)
            except (orjson.JSONDecodeError, SettingsError) as err:
                return _json({"error": str(err)}, 400)
        return _json(clock.as_dict())


_CLOCK_KEYS = frozenset({"advance", "now", "speed"})


def _step(clock: DataClock, step: dict[str, Any]) -> None:
    """Apply a checked clock step: every value checked before any changes the clock."""
    speed = check_speed(step["speed"]) if "speed" in step else None
    if "advance" in step:
        clock.advance(step["advance"])
    elif "now" in step:
        clock.set(step["now"])
    if speed is not None:
        clock.set_speed(speed)
