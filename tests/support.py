"""Helpers shared by the tests: emulator settings, AWS environments, real boto3 clients."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import orjson
from aiohttp import web
from botocore.config import Config

from trailsweep.emulator import EmulatorSettings, EmulatorThread, Faults
from trailsweep.emulator.tamper import Call, Honest

# The data clock of every test emulator: the current hour, so "90 days back" agrees with the
# client's real clock, and all data is fixed for the whole test run. The random draws count
# hours from NOW too (draw_origin), so the last N hours hold the same events at any hour.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
NOW_EPOCH = int(NOW.timestamp())

# What the `use_emu` fixture (conftest.py) gives: point this process's AWS SDKs at an emulator.
UseEmu = Callable[[EmulatorThread], None]


def settings(**kw: Any) -> EmulatorSettings:
    """Small, fast emulator settings; keyword arguments override, `faults` takes a dict."""
    faults = Faults(**kw.pop("faults", {}))
    base: dict[str, Any] = {
        "now": NOW,
        "draw_origin": NOW,
        "members": 3,
        "suspended": 1,
        "regions": ("us-east-1", "eu-west-1"),
        "events_per_day": 200.0,
        # No idle days, no office hours: tests pick pairs and windows that must hold
        # events, and the window moves with the hour the suite runs in, so volume must not
        # depend on the time of day or week.
        "idle_day_share": 0.0,
        "diurnal": False,
    }
    base.update(kw)
    return EmulatorSettings(faults=faults, **base)


# The CA bundle of every client the tests make (AWS_CA_BUNDLE): one throwaway certificate.
# Every endpoint here is http:// on 127.0.0.1 (the emulator, moto), so no certificate is
# ever checked; but aiobotocore loads its CA bundle into an SSL context for each client it
# makes, and certifi's ~150 certificates cost ~30 ms of CPU each time: a sweep makes
# clients per account and service, and the suite thousands of them.
UNUSED_CA = str(Path(__file__).with_name("unused_ca.pem"))


def aws_env(emu: EmulatorThread, **extra: str) -> dict[str, str]:
    """An environment in which any AWS SDK or CLI talks to `emu` as its management account."""
    info = emu.emulator.ready_info()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=info["url"],
        AWS_ACCESS_KEY_ID=info["access_key_id"],
        AWS_SECRET_ACCESS_KEY=info["secret_access_key"],
        AWS_DEFAULT_REGION=info["region"],
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CA_BUNDLE=UNUSED_CA,
    )
    env.update(extra)
    return env


def control(info: dict[str, Any], path: str, body: bytes | None = None) -> Any:
    """The emulator's control API at `path` (GET, or POST of `body`), as its ready line
    (`info`: url and control_token) allows; the parsed JSON answer."""
    req = urllib.request.Request(
        info["url"] + path,
        data=body,
        method="GET" if body is None else "POST",
        headers={"Authorization": f"Bearer {info['control_token']}"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return orjson.loads(r.read())


NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


def client(
    emu: EmulatorThread,
    service: str,
    region: str = "us-east-1",
    creds: dict[str, str] | None = None,
    config: Config | None = None,
) -> Any:  # fmt: skip
    info = emu.emulator.ready_info()
    creds = creds or {
        "aws_access_key_id": info["access_key_id"],
        "aws_secret_access_key": info["secret_access_key"],
    }
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=info["url"], config=config or NO_RETRY, **creds
    )


def member_creds(emu: EmulatorThread, account: str) -> dict[str, str]:
    sts = client(emu, "sts")
    role = emu.emulator.settings.role_name
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="tests")[
        "Credentials"
    ]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


def paginate(ct: Any, **params: Any) -> list[dict[str, Any]]:
    """All events through boto3's own LookupEvents paginator, EventTime back to epoch."""
    out = []
    for page in ct.get_paginator("lookup_events").paginate(**params):
        for e in page["Events"]:
            out.append(dict(e, EventTime=int(e["EventTime"].timestamp())))
    return out


# The NDJSON line, as the tests state it (README, docs/design.md): one JSON object a line,
# keys in this order, EventTime as ISO 8601 UTC with Z, CloudTrailEvent the parsed record
# (the API's string with --raw), whatever the API left out left out (never null), compact.
LINE_KEYS = ("account", "region", "EventTime", "EventId", "EventName", "EventSource",
             "Username", "AccessKeyId", "ReadOnly", "Resources", "CloudTrailEvent")  # fmt: skip


def expected_line(account: str, region: str, event: dict[str, Any], *, raw: bool = False) -> bytes:
    """The NDJSON line (with its newline) a sweep must write for one LookupEvents event of
    the emulator's truth (EventTime in epoch seconds), built from the format stated above,
    not from the client's code."""
    doc: dict[str, Any] = {"account": account, "region": region, **event}
    if doc.get("EventTime") is not None:
        when = datetime.fromtimestamp(doc["EventTime"], UTC)
        doc["EventTime"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if doc.get("CloudTrailEvent") is not None and not raw:
        doc["CloudTrailEvent"] = orjson.loads(doc["CloudTrailEvent"])
    ordered = {k: doc[k] for k in LINE_KEYS if doc.get(k) is not None}
    return orjson.dumps(ordered) + b"\n"


def expected_ndjson(
    emu: EmulatorThread,
    pairs: list[tuple[str, str]],
    *,
    start: int,
    end: int,
    attribute: tuple[str, str] | None = None,
    insight: bool = False,
    raw: bool = False,
) -> bytes:
    """The exact bytes a sweep must write: the ground truth, merged newest first, ties by
    account, region, then API order (docs/design.md invariant 3)."""
    items = []
    for account, region in pairs:
        truth = emu.truth(
            account, region, start=start, end=end, attribute=attribute, insight=insight
        )
        for i, e in enumerate(truth):
            items.append(
                ((-e["EventTime"], account, region, i), expected_line(account, region, e, raw=raw))
            )
    items.sort(key=lambda item: item[0])
    return b"".join(line for _, line in items)


def run_cli(
    args: list[str], env: dict[str, str] | None = None, cwd: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m trailsweep ARGS` as a user would, capturing stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "trailsweep", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


# How often `wait_for` looks: short next to what the tests wait for (pages of 10-100 ms, a
# file growing for seconds), long enough that the look costs the 2 cores nothing.
POLL_SECONDS = 0.01


def wait_for(
    condition: Callable[[], bool],
    *,
    timeout: float,
    proc: subprocess.Popen[bytes] | None = None,
) -> bool:
    """Whether `condition()` came to hold within `timeout` seconds (and before `proc`, if
    given, ended). A deadline poll with a short sleep, for what no event can announce: a
    file another process writes. What the emulator sees has an event (`LookupPages`)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if (proc is not None and proc.poll() is not None) or time.monotonic() >= deadline:
            return condition()
        time.sleep(POLL_SECONDS)
    return True


class LookupPages:
    """An emulator tamper (`EmulatorThread.set_tamper`) that counts the LookupEvents pages
    it serves (answers 200) to each pair and sets `enough` once one pair has had `pages`
    of them: a test waits on that instead of polling the emulator's stats."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.enough = threading.Event()
        self.served: Counter[tuple[str, str]] = Counter()

    async def __call__(self, call: Call, honest: Honest) -> web.StreamResponse:
        response = await honest()
        if call.operation == "LookupEvents" and response.status == 200:
            self.served[call.account, call.region] += 1  # the emulator's thread only
            if self.served[call.account, call.region] >= self.pages:
                self.enough.set()
        return response


class HoldFirstPage:
    """An emulator tamper that holds the first LookupEvents call until `release` is set:
    the run that made it cannot finish. `arrived` is set when it comes: the run has taken
    its lock and checkpointed its matrix by then (an export does both before any
    LookupEvents call)."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = asyncio.Event()

    async def __call__(self, call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation == "LookupEvents" and not self.arrived.is_set():
            self.arrived.set()
            await self.release.wait()
        return await honest()
