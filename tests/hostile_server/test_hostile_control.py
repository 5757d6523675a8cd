"""Bad STS, Organizations, Account and EC2 answers: one line and exit 1, or the one account
they concern fails alone; names from a server are checked before they are used."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from trailsweep.emulator import EmulatorThread
from trailsweep.emulator.tamper import Call, Honest, Tamper
from trailsweep.testing import ManualClock

from hostile import answer, json_answer, on
from inproc import Ran, run_main
from support import NOW_EPOCH, aws_env, expected_ndjson, settings

XML = "text/xml"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
START, END = NOW_EPOCH - 3 * 3600, NOW_EPOCH
WINDOW = ["--start-time", str(START), "--end-time", str(END), "--rate", "100"]


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    fast = settings(faults={"rate": 10_000.0, "burst": 10_000.0})
    with EmulatorThread(fast) as e:
        yield e
        e.set_tamper(None)


def sweep(emu: EmulatorThread, tmp: Path, tamper: Tamper | None, *args: str) -> Ran:
    emu.set_tamper(tamper)
    try:
        return run_main(
            ["sweep", "--output", str(tmp / "out.ndjson"), *WINDOW, *args], aws_env(emu)
        )
    finally:
        emu.set_tamper(None)


def identity(account: str | None) -> str:
    inner = "" if account is None else f"<Account>{account}</Account>"
    return (
        f'<GetCallerIdentityResponse xmlns="{STS_NS}"><GetCallerIdentityResult>'
        f"<Arn>arn:aws:iam::x:user/a</Arn>{inner}</GetCallerIdentityResult>"
        "</GetCallerIdentityResponse>"
    )


def endless_accounts() -> Tamper:
    """ListAccounts pages without end: no accounts, a new NextToken each time."""

    def respond(call: Call) -> web.StreamResponse:
        n = int(str(call.params.get("NextToken") or "t0")[1:]) + 1
        return json_answer({"Accounts": [], "NextToken": f"t{n}"})

    return on("ListAccounts", respond)


def org(doc: Any) -> Tamper:
    return on("ListAccounts", lambda call: json_answer(doc))


FATAL: list[tuple[str, Tamper, list[str], str]] = [
    ("identity garbage", on("GetCallerIdentity", lambda c: answer("<<<\x1b[2J", content_type=XML)),
     [], "STS GetCallerIdentity"),
    ("identity no account", on("GetCallerIdentity",
                               lambda c: answer(identity(None), content_type=XML)),
     [], "Account is missing"),
    ("identity account path", on("GetCallerIdentity",
                                 lambda c: answer(identity("../../etc/x"), content_type=XML)),
     [], "not a 12-digit id"),
    ("org not json", on("ListAccounts", lambda c: answer("<html>oops</html>")),
     ["--accounts", "org"], "Organizations ListAccounts"),
    ("org null", org(None), ["--accounts", "org"], "Organizations ListAccounts"),
    ("org array", org([]), ["--accounts", "org"], "Organizations ListAccounts"),
    ("org no Accounts", org({}), ["--accounts", "org"], "Accounts is missing"),
    ("org Accounts string", org({"Accounts": "all"}), ["--accounts", "org"], "ListAccounts"),
    ("org empty", org({"Accounts": []}), ["--accounts", "org"], "no ACTIVE account"),
    ("org id path", org({"Accounts": [{"Id": "../../etc", "Status": "ACTIVE"}]}),
     ["--accounts", "org"], "not 12 digits"),
    ("org id 11 digits", org({"Accounts": [{"Id": "12345678901", "Status": "ACTIVE"}]}),
     ["--accounts", "org"], "not 12 digits"),
    ("org id newline", org({"Accounts": [{"Id": "123456789012\n", "Status": "ACTIVE"}]}),
     ["--accounts", "org"], "not 12 digits"),
    ("org id number", org({"Accounts": [{"Id": 123456789012, "Status": "ACTIVE"}]}),
     ["--accounts", "org"], "Id is of type int"),
    ("org repeated token", org({"Accounts": [], "NextToken": "again"}), ["--accounts", "org"],
     "same NextToken"),
    ("org endless tokens", endless_accounts(), ["--accounts", "org"], "pages"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "tamper", "args", "needle"), FATAL, ids=[c[0] for c in FATAL])
def test_a_bad_base_answer_stops_with_one_line(
    emu: EmulatorThread, tmp_path: Path, name: str, tamper: Tamper, args: list[str], needle: str
) -> None:
    """A broken identity or organization answer: one line naming it, exit 1, nothing written."""
    ran = sweep(emu, tmp_path, tamper, *args)
    assert ran.code == 1, ran.err
    assert len(ran.err_lines) == 1, ran.err
    assert ran.err.startswith("trailsweep: error: ") and needle in ran.err
    assert "\x1b" not in ran.err and "Traceback" not in ran.err
    assert list(tmp_path.iterdir()) == []


def _members(emu: EmulatorThread) -> tuple[str, list[str]]:
    world = emu.emulator.world
    active = [a.id for a in world.accounts if a.status == "ACTIVE" and a.id != world.management.id]
    return world.management.id, active


def assume_role(respond: Callable[[Call], web.StreamResponse], account: str) -> Tamper:
    """AssumeRole into `account` answered by `respond`; every other call honestly."""

    async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation == "AssumeRole" and f"::{account}:" in call.params.get("RoleArn", ""):
            return respond(call)
        return await honest()

    return tamper


def _assumed(credentials: str) -> str:
    return (
        f'<AssumeRoleResponse xmlns="{STS_NS}"><AssumeRoleResult>{credentials}'
        "</AssumeRoleResult></AssumeRoleResponse>"
    )


BAD_ROLES: list[tuple[str, Callable[[Call], web.StreamResponse]]] = [
    ("no Credentials", lambda c: answer(_assumed(""), content_type=XML)),
    ("no SessionToken", lambda c: answer(_assumed(
        "<Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
        "<Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>"), content_type=XML)),
    ("newline in key", lambda c: answer(_assumed(
        "<Credentials><AccessKeyId>ASIA&#10;X-Evil: 1</AccessKeyId><SecretAccessKey>s"
        "</SecretAccessKey><SessionToken>t</SessionToken>"
        "<Expiration>2030-01-01T00:00:00Z</Expiration></Credentials>"), content_type=XML)),
    ("already expired", lambda c: answer(_assumed(
        "<Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
        "<SessionToken>t</SessionToken><Expiration>2001-01-01T00:00:00Z</Expiration>"
        "</Credentials>"), content_type=XML)),
    ("garbage", lambda c: answer("\x00\x01garbage", content_type=XML)),
    ("html error", lambda c: answer("<html>\n\x1b[31mdown</html>", 400, "text/html")),
]  # fmt: skip


@pytest.mark.parametrize(("name", "respond"), BAD_ROLES, ids=[c[0] for c in BAD_ROLES])
def test_a_bad_assume_role_answer_fails_that_member_alone(
    emu: EmulatorThread, tmp_path: Path, name: str, respond: Callable[[Call], web.StreamResponse]
) -> None:
    """The member's pairs fail with one summary line each; every other pair is written."""
    management, members = _members(emu)
    bad = members[0]
    ran = sweep(emu, tmp_path, assume_role(respond, bad), "--accounts", "org",
                "--regions", "us-east-1")  # fmt: skip
    assert ran.code == 1, ran.err
    failed = [line for line in ran.err_lines if line.startswith("trailsweep: failed ")]
    assert failed == [failed[0]] and failed[0].startswith(f"trailsweep: failed {bad}/us-east-1: ")
    assert "BadAnswer" in failed[0] and "\x1b" not in ran.err
    good = [(a, "us-east-1") for a in sorted([management, *members[1:]])]
    out = (tmp_path / "out.ndjson").read_bytes()
    assert out == expected_ndjson(emu, good, start=START, end=END)


def test_a_server_clock_hours_behind_fails_its_members_with_the_clock_named(
    tmp_path: Path,
) -> None:
    """STS two hours behind this machine hands out sessions that expired an hour ago by
    this clock: each member fails alone with one line that says to check the clock (not
    botocore's RuntimeError), the management account is written in full."""
    behind = ManualClock(wall=time.time() - 7200)  # sessions live 3600 s on the server
    with EmulatorThread(settings(faults={"rate": 10_000.0, "burst": 10_000.0}),
                        clock=behind) as skewed:  # fmt: skip
        management, members = _members(skewed)
        ran = sweep(skewed, tmp_path, None, "--accounts", "org", "--regions", "us-east-1")
        expected = expected_ndjson(skewed, [(management, "us-east-1")], start=START, end=END)
    assert ran.code == 1, ran.err
    failed = sorted(line for line in ran.err_lines if line.startswith("trailsweep: failed "))
    assert [line.split(":")[1].strip() for line in failed] == [
        f"failed {m}/us-east-1" for m in sorted(members)
    ]
    for line in failed:
        assert "already past by this machine's clock" in line and "check the clock" in line
        assert "RuntimeError" not in line
    assert (tmp_path / "out.ndjson").read_bytes() == expected


def regions_for(account: str, list_regions: Any, describe_regions: str | None) -> Tamper:
    """ListRegions of `account` answered with `list_regions` (a JSON document); its
    DescribeRegions with `describe_regions` (XML) when given; the rest honestly."""

    async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation == "ListRegions" and call.params.get("AccountId") == account:
            return json_answer(list_regions)
        if call.operation == "DescribeRegions" and call.account == account and describe_regions:
            return answer(describe_regions, content_type=XML)
        return await honest()

    return tamper


def _ec2(*names: str) -> str:
    items = "".join(f"<item><regionName>{n}</regionName></item>" for n in names)
    return (
        '<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        f"<regionInfo>{items}</regionInfo></DescribeRegionsResponse>"
    )


def _pairs(emu: EmulatorThread, accounts: list[str]) -> list[tuple[str, str]]:
    return [(a, r) for a in sorted(accounts) for r in ("eu-west-1", "us-east-1")]


@pytest.mark.parametrize(
    "listing",
    [
        {"Regions": [{"RegionName": "../../x", "RegionOptStatus": "ENABLED"}]},
        {"Regions": [{"RegionName": "us-east-1\n", "RegionOptStatus": "ENABLED"}]},
        {"Regions": "us-east-1"},
        {"Regions": []},
        None,
    ],
    ids=["path", "newline", "string", "empty", "null"],
)
def test_a_bad_region_listing_falls_back_to_describe_regions(
    emu: EmulatorThread, tmp_path: Path, listing: Any
) -> None:
    """A ListRegions answer that cannot be used counts as a refusal: DescribeRegions decides."""
    management, members = _members(emu)
    ran = sweep(emu, tmp_path, regions_for(members[0], listing, None), "--accounts", "org",
                "--regions", "all")  # fmt: skip
    assert ran.code == 0, ran.err
    expected = expected_ndjson(emu, _pairs(emu, [management, *members]), start=START, end=END)
    assert (tmp_path / "out.ndjson").read_bytes() == expected


@pytest.mark.parametrize(
    "described",
    [_ec2("us east 1"), _ec2("eu-west-1", "../us-east-1"), _ec2(), "garbage<"],
    ids=["space", "path", "none", "garbage"],
)
def test_bad_region_names_fail_that_account_alone(
    emu: EmulatorThread, tmp_path: Path, described: str
) -> None:
    """Region names not shaped like one never reach a path or a line: the account fails."""
    management, members = _members(emu)
    bad = members[0]
    ran = sweep(emu, tmp_path, regions_for(bad, None, described), "--accounts", "org",
                "--regions", "all")  # fmt: skip
    assert ran.code == 1, ran.err
    failed = [line for line in ran.err_lines if line.startswith("trailsweep: failed ")]
    assert len(failed) == 1 and failed[0].startswith(f"trailsweep: failed {bad}/*: BadAnswer")
    good = _pairs(emu, [management, *members[1:]])
    assert (tmp_path / "out.ndjson").read_bytes() == expected_ndjson(
        emu, good, start=START, end=END
    )
    stored = orjson.loads((tmp_path / "out.ndjson.checkpoint.json").read_bytes())["body"]["pairs"]
    assert {p["region"] for p in stored} == {"*", "eu-west-1", "us-east-1"}


# Server text: sanitized before it reaches stderr, the summary JSON or the checkpoint ------
FORGED = "\ntrailsweep: 9 pairs, 9 complete, 0 failed\x1b[2J\x1b]0;pwned\x07\u202egnp.exe"


def echoing(accounts: set[str], seen: list[str]) -> Tamper:
    """LookupEvents of `accounts` refused with a message that echoes the request's
    Authorization and session token headers, forges a summary line, clears the screen,
    and runs on for 20,000 characters; what was echoed is collected in `seen`."""

    async def tamper(call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation != "LookupEvents" or call.account not in accounts:
            return await honest()
        auth = call.request.headers.get("Authorization", "")
        token = call.request.headers.get("X-Amz-Security-Token", "")
        seen.extend(v for v in (auth, token) if v)
        message = f"denied for {auth} with {token}{FORGED} " + "blah " * 4000
        return json_answer(
            {"__type": "AccessDenied\x1b[31m\nException", "message": message}, status=400
        )

    return tamper


def _secrets_of(emu: EmulatorThread, seen: list[str]) -> list[str]:
    """Everything that must never be shown: the echoed headers' key ids, signatures and
    session tokens, and the base credentials."""
    info = emu.emulator.ready_info()
    found = [info["access_key_id"], info["secret_access_key"]]
    for value in seen:
        if value.startswith("AWS4-HMAC-SHA256"):
            found.append(value.split("Credential=")[1].split("/")[0])
            found.append(value.split("Signature=")[1])
        else:
            found.append(value)
    return found


def _assert_safe(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text


def test_server_error_text_is_sanitized_everywhere(emu: EmulatorThread, tmp_path: Path) -> None:
    """Newlines, escapes, echoed credentials and endless text never reach the user raw."""
    management, members = _members(emu)
    seen: list[str] = []
    summary = tmp_path / "summary.json"
    ran = sweep(emu, tmp_path, echoing({management, members[0]}, seen), "--accounts", "org",
                "--regions", "us-east-1", "--summary-json", str(summary))  # fmt: skip
    assert ran.code == 1, ran.err
    secrets = _secrets_of(emu, seen)
    assert any(s.startswith("ASIA") for s in secrets)  # a member's session was echoed
    assert all(line.startswith("trailsweep: ") for line in ran.err.splitlines())
    failed = [line for line in ran.err_lines if line.startswith("trailsweep: failed ")]
    assert len(failed) == 2 and len(ran.err_lines) == 3, ran.err
    assert all(
        len(line) <= len("trailsweep: failed 123456789012/us-east-1: ") + 300 for line in failed
    )
    for text in (
        ran.err,
        summary.read_text(),
        (tmp_path / "out.ndjson.checkpoint.json").read_text(),
    ):
        _assert_safe(text, secrets)
    good = [(members[1], "us-east-1")]
    assert (tmp_path / "out.ndjson").read_bytes() == expected_ndjson(
        emu, good, start=START, end=END
    )
    errors = [p["error"] for p in orjson.loads(summary.read_bytes())["failures"]]
    assert all(e.startswith("AccessDenied\\x1b[31m\\nException: denied for ") for e in errors)


def test_lookup_events_error_is_one_clean_line(emu: EmulatorThread) -> None:
    """lookup-events prints a refused call as the AWS CLI does, minus the hostile parts."""
    seen: list[str] = []
    emu.set_tamper(echoing({emu.emulator.world.management.id}, seen))
    try:
        ran = run_main(["lookup-events", "--region", "eu-west-1", "--max-items", "1"], aws_env(emu))
    finally:
        emu.set_tamper(None)
    assert ran.code == 1 and ran.out == b""
    assert len(ran.err.splitlines()) == 1, ran.err
    assert ran.err.startswith("trailsweep: error: An error occurred (AccessDenied")
    _assert_safe(ran.err, _secrets_of(emu, seen))
