"""The emulator's HTTP server: one port, routed the way botocore sends each protocol.

    X-Amz-Target  ...CloudTrail_20131101.LookupEvents   -> CloudTrail (JSON 1.1)
    X-Amz-Target  AWSOrganizationsV20161128.ListAccounts -> Organizations (JSON 1.1; also
                  ListRoots, ListOrganizationalUnitsForParent, ListAccountsForParent, ListChildren)
    POST /listRegions                                     -> Account (REST-JSON)
    form body Action=DescribeRegions / any other          -> EC2 / STS (query, XML)
    /_emulator/...                                        -> control API for tests

Every AWS request is authenticated first (SigV4, session tokens, expiry, a credential
scope naming the service called); the account is the access key's, the region the
credential scope's.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import socket
import struct
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from trailsweep.emulator import organizations, services
from trailsweep.emulator.clock import REAL_CLOCK, Clock
from trailsweep.emulator.cloudtrail import LookupEvents
from trailsweep.emulator.control import control_routes
from trailsweep.emulator.dataclock import DataClock
from trailsweep.emulator.history import History
from trailsweep.emulator.protocol import (
    ApiError,
    Protocol,
    auth_error,
    error_response,
    json_response,
    scope_error,
    xml_response,
)
from trailsweep.emulator.quota import Quota
from trailsweep.emulator.scenarios import plant
from trailsweep.emulator.settings import EmulatorSettings, control_call_listed
from trailsweep.emulator.sigv4 import (
    SignatureProblem,
    expected_signature,
    parse_authorization,
    signature_matches,
)
from trailsweep.emulator.tamper import Call, Tamper
from trailsweep.emulator.truth import GroundTruth, TruthQuery
from trailsweep.emulator.world import Principal, World, stable_hash

CLOUDTRAIL = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
ORGANIZATIONS = "AWSOrganizationsV20161128"
EC2_ACTIONS = frozenset({"DescribeRegions"})  # the query-protocol actions that are EC2's


class Emulator:
    """A CloudTrail-and-friends server on 127.0.0.1: ``async with Emulator(settings) as emu``."""

    def __init__(self, settings: EmulatorSettings | None = None, *, clock: Clock = REAL_CLOCK):
        self.settings = settings or EmulatorSettings()
        self.faults = self.settings.faults
        self.clock = clock
        self.world = World(self.settings)
        # The planted scenarios, placed once (scenarios.py); their events join the history.
        self.planted = plant(self.settings, self.world)
        placed = tuple((p.account, p.region, e) for p in self.planted for e in p.events)
        self.history = History(self.settings, self.world.management.id, placed)
        self.quota = Quota(self.faults)
        self.lookup = LookupEvents(self.history, b"%d" % stable_hash("tokens", self.settings.seed))
        self._rng = random.Random(self.settings.seed)
        self.data_clock = DataClock(
            self.settings.now.timestamp(), self.settings.data_speed, clock.wall
        )
        self._truth = GroundTruth(self.settings, self.world, self.history, self.faults)
        self._runner: web.AppRunner | None = None
        self.port = self.settings.port
        self.requests = 0  # every AWS request received, whatever its outcome
        self.auth_failures: Counter[str] = Counter()  # by error code, before any pair counts
        self.tamper: Tamper | None = None  # tests of hostile servers answer for us (tamper.py)
        self._stopping = asyncio.Event()  # set when the server stops: hung calls end then
        self.hanging = asyncio.Event()  # set once a call hangs (Faults.hang_calls), for tests
        # The control API's bearer token (control.py), on every bind, loopback included.
        self.control_token = self.settings.control_token or secrets.token_urlsafe(32)

    # lifecycle ---------------------------------------------------------------------
    async def __aenter__(self) -> Emulator:
        self._stopping.clear()
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_routes(control_routes(self))
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # shutdown_timeout: a stop (Ctrl-C, the end of a test) waits at most 5 s for requests
        # still being answered, not aiohttp's default minute (a Ctrl-C'd emulator under load
        # once outlived a test's 60 s wait).
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=5.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stopping.set()  # before cleanup, which would wait on hung handlers
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        host = self.settings.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def ready_info(self) -> dict[str, Any]:
        """What the ready line prints: where to connect, as whom (the management account's
        keys) and the control API's token. Secrets, for whoever started the emulator."""
        root = self.world.root_principal
        return {
            "url": self.url,
            "access_key_id": root.access_key_id,
            "secret_access_key": root.secret_access_key,
            "region": self.settings.regions[0],
            "account": self.world.management.id,
            "control_token": self.control_token,
        }

    def public_info(self) -> dict[str, Any]:
        """The ready line without its secrets: what GET /_emulator/world shows by default."""
        info = self.ready_info()
        del info["secret_access_key"], info["control_token"]
        return info

    def data_now(self) -> int:
        """The emulator's "now" for which events exist and have arrived (dataclock.py):
        pinned at `settings.now` unless it runs (`clock_speed`, `realtime`) or is stepped."""
        return self.data_clock.now()

    # ground truth (truth.py) -----------------------------------------------------------
    def truth(
        self, account: str, region: str, *, start: int | None = None, end: int | None = None,
        attribute: tuple[str, str] | None = None, insight: bool = False,
        as_of: int | None = None, everything: bool = False,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Exactly what a complete LookupEvents query returns, in API order (newest first):
        now, or once the data clock reads `as_of`; with `everything`, every event that has
        happened by then, arrived or not (see truth.py)."""
        q = TruthQuery(account, region, start, end, attribute, insight, as_of, everything)
        return self._truth.rendered(q, self._truth.events(q, self.data_now()))

    def arrivals(
        self, account: str, region: str, *, start: int | None = None, end: int | None = None,
        attribute: tuple[str, str] | None = None, insight: bool = False,
        as_of: int | None = None, everything: bool = False,
    ) -> dict[str, int]:  # fmt: skip
        """EventId -> arrival time (epoch seconds) of each event `truth` would return with
        the same arguments, in the same order."""
        q = TruthQuery(account, region, start, end, attribute, insight, as_of, everything)
        events = self._truth.events(q, self.data_now())
        return dict(zip((e.event_id for e in events), self._truth.arrivals(events), strict=True))

    def truth_document(self, q: TruthQuery, *, arrivals: bool) -> dict[str, Any]:
        """What GET /_emulator/truth answers: {"Events": [...]}, and with `arrivals` a list
        "Arrivals" of their arrival times in the same order, from one reading of the clock."""
        events = self._truth.events(q, self.data_now())
        document: dict[str, Any] = {"Events": self._truth.rendered(q, events)}
        if arrivals:
            document["Arrivals"] = self._truth.arrivals(events)
        return document

    def scenario_documents(self) -> list[dict[str, Any]]:
        """What GET /_emulator/scenarios lists: each planted scenario, oldest first."""
        docs = [p.document() for p in self.planted]
        return sorted(docs, key=lambda d: (d["StartTime"], d["Name"]))

    # requests ----------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        body = await request.read()
        target = request.headers.get("X-Amz-Target", "")
        protocol: Protocol = "json"
        try:
            if target:
                prefix, _, op = target.rpartition(".")
                if prefix not in (CLOUDTRAIL, ORGANIZATIONS):
                    raise ApiError("UnknownOperationException", f"Unknown operation {target}")
                service = "cloudtrail" if prefix == CLOUDTRAIL else "organizations"
                caller, region = self._authenticate(request, body, protocol, service)
                req = _json_body(body)
            elif request.path == "/listRegions":
                protocol, service, op = "rest-json", "account", "ListRegions"
                caller, region = self._authenticate(request, body, protocol, service)
                req = _json_body(body)
            else:
                req = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
                # At AWS the host name says which service a query-protocol call is for;
                # on one port the action does (STS and EC2 share no action names).
                op = str(req.get("Action", ""))
                service = "ec2" if op in EC2_ACTIONS else "sts"
                protocol = "ec2" if service == "ec2" else "query"
                caller, region = self._authenticate(request, body, protocol, service)

            async def honest() -> web.StreamResponse:
                try:
                    return await self._answer(request, service, op, caller, region, req)
                except ApiError as err:
                    return error_response(protocol, err)

            if self.tamper is not None:
                call = Call(service, op, req, caller.account, region, request)
                return await self.tamper(call, honest)
            return await self._answer(request, service, op, caller, region, req)
        except SignatureProblem as sp:
            status = 403 if sp.code == "MissingAuthenticationTokenException" else 400
            return error_response(protocol, ApiError(sp.code, sp.message, status))
        except ApiError as err:
            return error_response(protocol, err)

    async def _answer(
        self,
        request: web.Request,
        service: str,
        op: str,
        caller: Principal,
        region: str,
        req: dict[str, Any],
    ) -> web.StreamResponse:
        if service == "cloudtrail":
            return await self._cloudtrail(request, op, caller, region, req)
        name, account = f"{service}:{op}", services.concerns(op, caller, req)
        if control_call_listed(self.faults.hang_calls, name, account):
            # Accepted, never answered: until the emulator stops, then the connection drops.
            self.hanging.set()
            await self._stopping.wait()
            _reset(request)
            return web.Response(status=500)
        if control_call_listed(self.faults.fail_calls, name, account):
            raise ApiError("InternalFailure", "An internal error occurred.", 500)
        if service == "organizations":
            if op in organizations.OPERATIONS:
                return json_response(organizations.answer(self.world, op, caller, req))
            if op != "ListAccounts":
                raise ApiError("UnknownOperationException", f"Unknown operation {op}")
            return json_response(services.list_accounts(self.world, caller, req))
        if service == "account":
            out = services.list_regions(self.world, caller, req)
            return json_response(out, "application/json")
        return self._query("ec2" if service == "ec2" else "query", req, caller, region)

    def _authenticate(
        self, request: web.Request, body: bytes, protocol: Protocol, service: str
    ) -> tuple[Principal, str]:
        try:
            return self._verify(request, body, protocol, service)
        except ApiError as err:
            self.auth_failures[err.code] += 1
            raise

    def _verify(
        self, request: web.Request, body: bytes, protocol: Protocol, service: str
    ) -> tuple[Principal, str]:
        auth = parse_authorization(request.headers.get("Authorization"))
        if auth.service != service:  # a signature for s3 opens no CloudTrail
            raise scope_error(service, protocol)
        principal = self.world.principal(auth.access_key_id)
        if principal is None:
            raise auth_error("unknown-key", protocol)
        if principal.session_token is not None:
            if request.headers.get("X-Amz-Security-Token") != principal.session_token:
                raise auth_error("unknown-key", protocol)
            if principal.expires_at is not None and self.clock.wall() >= principal.expires_at:
                raise auth_error("expired", protocol)
        expected = expected_signature(
            auth,
            principal.secret_access_key,
            method=request.method,
            raw_path=request.rel_url.raw_path,
            raw_query=request.rel_url.raw_query_string,
            headers=request.headers,
            body=body,
        )
        if not signature_matches(expected, auth.signature):
            raise auth_error("bad-signature", protocol)
        return principal, auth.region

    def _query(
        self, protocol: Protocol, params: dict[str, str], caller: Principal, region: str
    ) -> web.Response:
        action = params.get("Action", "")
        if protocol == "ec2" and action == "DescribeRegions":
            if not self.world.region_enabled(caller.account, region):
                raise auth_error("unknown-key", protocol)
            return xml_response(services.describe_regions(self.world, caller.account, params))
        if protocol == "query" and action == "AssumeRole":
            return xml_response(services.assume_role(self.world, caller, params, self.clock.wall()))
        if protocol == "query" and action == "GetCallerIdentity":
            return xml_response(services.get_caller_identity(caller))
        raise ApiError("InvalidAction", f"The action {action or '(none)'} is not valid", 400)

    async def _cloudtrail(
        self, request: web.Request, op: str, caller: Principal, region: str, req: dict[str, Any]
    ) -> web.StreamResponse:
        if op != "LookupEvents":
            raise ApiError("UnknownOperationException", f"Unknown operation {op}")
        f, account = self.faults, caller.account
        stats = self.quota.pair(account, region)
        try:
            if account in f.deny_accounts:
                raise ApiError(
                    "AccessDeniedException",
                    f"User: {caller.arn} is not authorized to perform: cloudtrail:LookupEvents "
                    "because no identity-based policy allows the cloudtrail:LookupEvents action",
                )
            if not self.world.region_enabled(account, region):
                raise auth_error("unknown-key", "json")
            if not self.quota.admit(account, region, self.clock.monotonic()):
                raise ApiError("ThrottlingException", "Rate exceeded")
            delay = f.latency_ms + (self._rng.uniform(0, f.jitter_ms) if f.jitter_ms else 0.0)
            if delay > 0:
                stats.in_flight += 1
                stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
                try:
                    await self.clock.sleep(delay / 1000.0)
                finally:
                    stats.in_flight -= 1
            if f.reset_rate and self._rng.random() < f.reset_rate:
                stats.errors["ConnectionReset"] += 1
                _reset(request)
                return web.Response(status=500)
            if f.error_rate and self._rng.random() < f.error_rate:
                if self._rng.random() < 0.5:
                    raise ApiError("InternalFailure", "An internal error occurred.", 500)
                raise ApiError("ServiceUnavailableException", "Service unavailable.", 503)
            page = self.lookup(
                account, region, req, data_now=self.data_now(), wall=self.clock.wall(),
                token_ttl=f.token_ttl, retention_days=self.settings.retention_days,
                lag=f.lag(),
            )  # fmt: skip
        except ApiError as err:
            stats.errors[err.code] += 1
            raise
        stats.pages += 1
        stats.events += page.events
        if f.slow_body_ms > 0:
            return await _slow(request, page.body, f.slow_body_ms, self.clock)
        return json_response(page.body)


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        req = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise ApiError("SerializationException", "The request body is not valid JSON.") from None
    if not isinstance(req, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object.")
    return req


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP RST, the way a broken network does."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _slow(
    request: web.Request, body: bytes, pause_ms: float, clock: Clock
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/x-amz-json-1.1"})
    response.content_length = len(body)
    await response.prepare(request)
    step = max(1, len(body) // 4)
    for i in range(0, len(body), step):
        await response.write(body[i : i + step])
        await clock.sleep(pause_ms / 1000.0)
    await response.write_eof()
    return response
