"""Every error of the LookupEvents contract, provoked through a real botocore client."""

from __future__ import annotations

import base64
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from trailsweep.emulator import EmulatorThread
from trailsweep.emulator import attributes as server_rules
from trailsweep.settings import attributes as client_rules
from trailsweep.testing import ManualClock

from support import NOW_EPOCH, client, member_creds, settings

NO_VALIDATION = Config(retries={"total_max_attempts": 1}, parameter_validation=False)


def _code(call: Callable[..., object], **params: object) -> str:
    with pytest.raises(ClientError) as info:
        call(**params)
    return str(info.value.response["Error"]["Code"])


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        ({"MaxResults": 0}, "InvalidMaxResultsException"),
        ({"EventCategory": "management"}, "InvalidEventCategoryException"),
        (
            {
                "LookupAttributes": [
                    {"AttributeKey": "Username", "AttributeValue": "alice"},
                    {"AttributeKey": "EventName", "AttributeValue": "RunInstances"},
                ]
            },
            "InvalidLookupAttributesException",
        ),
        (
            {"LookupAttributes": [{"AttributeKey": "UserName", "AttributeValue": "alice"}]},
            "InvalidLookupAttributesException",
        ),
        (
            {"LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "a_" * 667}]},
            "InvalidLookupAttributesException",
        ),
        (
            {"LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "yes"}]},
            "InvalidLookupAttributesException",
        ),
        (
            {
                "EventCategory": "insight",
                "LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "alice"}],
            },
            "InvalidLookupAttributesException",
        ),
        ({"StartTime": NOW_EPOCH, "EndTime": NOW_EPOCH - 60}, "InvalidTimeRangeException"),
        ({"NextToken": "not-a-token"}, "InvalidNextTokenException"),
    ],
)
def test_invalid_parameters_get_the_contract_code(
    fast_emu: EmulatorThread, params: dict[str, Any], code: str
) -> None:
    """Each invalid request gets exactly the error code the contract names."""
    ct = client(fast_emu, "cloudtrail", config=NO_VALIDATION)
    assert _code(ct.lookup_events, **params) == code


def test_value_of_2000_counted_characters_is_accepted(fast_emu: EmulatorThread) -> None:
    """1,000 underscores count 2,000: the limit itself is allowed; one more is not."""
    ct = client(fast_emu, "cloudtrail")
    ok = [{"AttributeKey": "Username", "AttributeValue": "_" * 1000}]
    assert ct.lookup_events(LookupAttributes=ok)["Events"] == []
    too_long = [{"AttributeKey": "Username", "AttributeValue": "_" * 1000 + "x"}]
    assert _code(ct.lookup_events, LookupAttributes=too_long) == "InvalidLookupAttributesException"


def test_token_reused_with_other_parameters_is_rejected(fast_emu: EmulatorThread) -> None:
    """A NextToken is bound to the attributes, times and category that produced it."""
    ct = client(fast_emu, "cloudtrail")
    window = {"StartTime": NOW_EPOCH - 86400, "EndTime": NOW_EPOCH}
    token = ct.lookup_events(MaxResults=1, **window)["NextToken"]
    assert ct.lookup_events(MaxResults=1, NextToken=token, **window)["Events"]
    moved = {"StartTime": NOW_EPOCH - 86399, "EndTime": NOW_EPOCH}
    assert _code(ct.lookup_events, NextToken=token, **moved) == "InvalidNextTokenException"
    attr = [{"AttributeKey": "ReadOnly", "AttributeValue": "true"}]
    assert (
        _code(ct.lookup_events, NextToken=token, LookupAttributes=attr, **window)
        == "InvalidNextTokenException"
    )


def test_tampered_token_is_rejected(fast_emu: EmulatorThread) -> None:
    """Changing one byte of a token's position makes it invalid (it is sealed)."""
    ct = client(fast_emu, "cloudtrail")
    token = ct.lookup_events(MaxResults=1)["NextToken"]
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[5] ^= 1
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert _code(ct.lookup_events, NextToken=forged) == "InvalidNextTokenException"


@pytest.fixture
def clocked() -> Iterator[tuple[EmulatorThread, ManualClock]]:
    """An emulator whose wall clock (token TTL, credential expiry, quota) the test moves."""
    clock = ManualClock(wall=float(NOW_EPOCH))
    emu = EmulatorThread(settings(faults={"token_ttl": 60.0, "credential_ttl": 900.0}), clock=clock)
    with emu:
        yield emu, clock


def test_token_after_its_ttl_is_rejected(clocked: tuple[EmulatorThread, ManualClock]) -> None:
    """A token works within its time to live and fails after it."""
    emu, clock = clocked
    ct = client(emu, "cloudtrail")
    token = ct.lookup_events(MaxResults=1)["NextToken"]
    clock.advance(59)
    assert ct.lookup_events(MaxResults=1, NextToken=token)["Events"]
    clock.advance(2)
    assert _code(ct.lookup_events, MaxResults=1, NextToken=token) == "InvalidNextTokenException"


def test_expired_session_gets_expired_token(clocked: tuple[EmulatorThread, ManualClock]) -> None:
    """Assumed-role credentials work until their expiry, then ExpiredTokenException."""
    emu, clock = clocked
    member = emu.emulator.world.accounts[1].id
    ct = client(emu, "cloudtrail", creds=member_creds(emu, member))
    assert "Events" in ct.lookup_events(MaxResults=1)
    clock.advance(901)
    assert _code(ct.lookup_events, MaxResults=1) == "ExpiredTokenException"


def test_throttling_is_http_400_rate_exceeded(clocked: tuple[EmulatorThread, ManualClock]) -> None:
    """Past the bucket (2 calls, refilled at 2/s), calls get HTTP 400 ThrottlingException."""
    emu, clock = clocked
    ct = client(emu, "cloudtrail")
    ct.lookup_events(MaxResults=1)
    ct.lookup_events(MaxResults=1)
    with pytest.raises(ClientError) as info:
        ct.lookup_events(MaxResults=1)
    err = info.value.response
    assert err["Error"]["Code"] == "ThrottlingException"
    assert err["Error"]["Message"] == "Rate exceeded"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    clock.advance(0.5)
    assert "Events" in ct.lookup_events(MaxResults=1)
    stats = emu.stats()["pairs"][f"{emu.emulator.world.management.id}/us-east-1"]
    assert stats["throttled"] == 1
    assert stats["calls"] == 4


def test_unknown_access_key_is_unrecognized_client(fast_emu: EmulatorThread) -> None:
    """A key the emulator never issued gets UnrecognizedClientException."""
    creds = {"aws_access_key_id": "AKIAUNKNOWNKEY000000", "aws_secret_access_key": "x" * 40}
    ct = client(fast_emu, "cloudtrail", creds=creds)
    assert _code(ct.lookup_events) == "UnrecognizedClientException"


def test_wrong_secret_is_invalid_signature(fast_emu: EmulatorThread) -> None:
    """The right key signed with the wrong secret: InvalidSignatureException."""
    info = fast_emu.emulator.ready_info()
    creds = {"aws_access_key_id": info["access_key_id"], "aws_secret_access_key": "y" * 40}
    ct = client(fast_emu, "cloudtrail", creds=creds)
    assert _code(ct.lookup_events) == "InvalidSignatureException"


def test_body_changed_after_signing_is_rejected(fast_emu: EmulatorThread) -> None:
    """A signed request whose body is altered in flight fails signature verification."""
    ct = client(fast_emu, "cloudtrail")

    def tamper(request: Any, **_: Any) -> None:
        request.body = request.body.replace(b"50", b"49")

    ct.meta.events.register_last("before-send.cloudtrail.LookupEvents", tamper)
    assert _code(ct.lookup_events, MaxResults=50) == "InvalidSignatureException"


def test_missing_signature_is_rejected(fast_emu: EmulatorThread) -> None:
    """An unsigned request: 403 MissingAuthenticationTokenException."""
    req = urllib.request.Request(
        fast_emu.url + "/",
        data=b"{}",
        headers={
            "X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 403
    assert info.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_denied_account_and_disabled_region() -> None:
    """AccessDeniedException for a denied account; UnrecognizedClient for a disabled region."""
    with EmulatorThread(settings()) as emu:
        members = [a.id for a in emu.emulator.world.accounts[1:3]]
        emu.set_faults(deny_accounts=[members[0]], disabled_regions={members[1]: ["eu-west-1"]})
        denied = client(emu, "cloudtrail", creds=member_creds(emu, members[0]))
        assert _code(denied.lookup_events) == "AccessDeniedException"
        creds = member_creds(emu, members[1])
        assert _code(client(emu, "cloudtrail", "eu-west-1", creds).lookup_events) == (
            "UnrecognizedClientException"
        )
        assert "Events" in client(emu, "cloudtrail", "us-east-1", creds).lookup_events()
        regions = client(emu, "ec2", "us-east-1", creds).describe_regions()["Regions"]
        assert [r["RegionName"] for r in regions] == ["us-east-1"]


def test_unassumable_role_and_suspended_account_are_access_denied() -> None:
    """AssumeRole into an unassumable or SUSPENDED account: AccessDenied (query protocol)."""
    with EmulatorThread(settings()) as emu:
        world = emu.emulator.world
        target = world.accounts[1].id
        emu.set_faults(unassumable_accounts=[target])
        for account in (target, world.accounts[-1].id):
            assert world.by_id[account].status == "ACTIVE" or account == world.accounts[-1].id
            with pytest.raises(ClientError) as info:
                member_creds(emu, account)
            assert info.value.response["Error"]["Code"] == "AccessDenied"


# One signed request per service the emulator serves: (scope service, path, headers, body,
# its status and error code when signed for another service).
_JSON_11 = "application/x-amz-json-1.1"
SERVICES: list[tuple[str, str, dict[str, str], bytes, int, str]] = [
    ("cloudtrail", "/", {"X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
                         ".LookupEvents", "Content-Type": _JSON_11},
     b'{"MaxResults": 1}', 400, "InvalidSignatureException"),
    ("organizations", "/", {"X-Amz-Target": "AWSOrganizationsV20161128.ListAccounts",
                            "Content-Type": _JSON_11}, b"{}", 400, "InvalidSignatureException"),
    ("account", "/listRegions", {"Content-Type": "application/json"}, b"{}", 403,
     "InvalidSignatureException"),
    ("sts", "/", {"Content-Type": "application/x-www-form-urlencoded"},
     b"Action=GetCallerIdentity&Version=2011-06-15", 403, "SignatureDoesNotMatch"),
    ("ec2", "/", {"Content-Type": "application/x-www-form-urlencoded"},
     b"Action=DescribeRegions&Version=2016-11-15", 401, "AuthFailure"),
]  # fmt: skip


def _signed(
    emu: EmulatorThread, scope: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, str]:
    """Status, and error type header (REST-JSON carries the code there) and body, of a
    request signed by botocore's SigV4Auth for the `scope` service."""
    info = emu.emulator.ready_info()
    request = AWSRequest(method="POST", url=emu.url + path, data=body, headers=headers)
    creds = Credentials(info["access_key_id"], info["secret_access_key"])
    SigV4Auth(creds, scope, "us-east-1").add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(
        prepared.url, data=body, headers=dict(prepared.headers), method="POST"
    )
    try:
        with urllib.request.urlopen(raw, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, f"{err.headers['x-amzn-ErrorType']} {err.read().decode()}"


@pytest.mark.parametrize(
    ("service", "path", "headers", "body", "status", "code"), SERVICES, ids=[s[0] for s in SERVICES]
)
def test_a_signature_scoped_to_another_service_is_refused(
    fast_emu: EmulatorThread, service: str, path: str, headers: dict[str, str], body: bytes,
    status: int, code: str,
) -> None:  # fmt: skip
    """Signed for s3 (or for a neighbour on the same port): refused as AWS refuses it,
    naming the service the scope should name; signed for the service itself: answered."""
    others = ["s3", *(s[0] for s in SERVICES if s[0] != service)]
    for scope in others:
        got, text = _signed(fast_emu, scope, path, headers, body)
        assert (got, code) == (status, code) and code in text, (scope, got, text)
        assert f"Credential should be scoped to correct service: '{service}'. " in text
    got, text = _signed(fast_emu, service, path, headers, body)
    assert got == 200, text


_SESSION = "[\\w+=,.@-]*"
_EXTERNAL = "[\\w+=,.@:\\/-]*"
BAD_ASSUME_ROLE: list[tuple[dict[str, str], str]] = [
    ({"RoleSessionName": "x y"}, f"Value 'x y' at 'roleSessionName' failed to satisfy "
     f"constraint: Member must satisfy regular expression pattern: {_SESSION}"),
    ({"RoleSessionName": "a/b"}, f"at 'roleSessionName' failed to satisfy constraint: Member "
     f"must satisfy regular expression pattern: {_SESSION}"),
    ({"RoleSessionName": "a*"}, f"pattern: {_SESSION}"),
    ({"RoleSessionName": "s" * 5000}, "at 'roleSessionName' failed to satisfy constraint: "
     "Member must have length less than or equal to 64"),
    ({"RoleSessionName": "s"}, "at 'roleSessionName' failed to satisfy constraint: Member "
     "must have length greater than or equal to 2"),
    ({"ExternalId": "e" * 100_000}, "at 'externalId' failed to satisfy constraint: Member "
     "must have length less than or equal to 1224"),
    ({"ExternalId": "a b"}, f"Value 'a b' at 'externalId' failed to satisfy constraint: "
     f"Member must satisfy regular expression pattern: {_EXTERNAL}"),
]  # fmt: skip


@pytest.mark.parametrize(("given", "problem"), BAD_ASSUME_ROLE, ids=lambda v: str(v)[:30])
def test_assume_role_refuses_what_sts_refuses(
    fast_emu: EmulatorThread, given: dict[str, str], problem: str
) -> None:
    """A RoleSessionName or ExternalId outside AWS's constraints: HTTP 400 ValidationError,
    worded as STS words it (botocore's own checks off, as a raw client would send it)."""
    sts = client(fast_emu, "sts", config=NO_VALIDATION)
    member = fast_emu.emulator.world.accounts[1].id
    arn = f"arn:aws:iam::{member}:role/{fast_emu.emulator.settings.role_name}"
    params = {"RoleArn": arn, "RoleSessionName": "tests", **given}
    with pytest.raises(ClientError) as info:
        sts.assume_role(**params)
    error = info.value.response
    assert error["Error"]["Code"] == "ValidationError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = error["Error"]["Message"]
    assert message.startswith("1 validation error detected: Value '") and problem in message
    ok = {"RoleSessionName": ("Az09_+=,.@-" * 6)[:64], "ExternalId": "e" * 1224}
    assert sts.assume_role(**{**params, **ok})["Credentials"]["AccessKeyId"]


def test_assume_role_into_a_role_name_iam_cannot_hold_is_denied(fast_emu: EmulatorThread) -> None:
    """`bad role!*` is a role no account can have: AccessDenied, as for any missing role."""
    sts = client(fast_emu, "sts", config=NO_VALIDATION)
    member = fast_emu.emulator.world.accounts[1].id
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=f"arn:aws:iam::{member}:role/bad role!*", RoleSessionName="t1")
    assert info.value.response["Error"]["Code"] == "AccessDenied"


# Keys near the real ones (case, spaces) and values near every limit of the rules.
_keys = st.one_of(
    st.sampled_from(client_rules.ATTRIBUTE_KEYS),
    st.sampled_from(client_rules.ATTRIBUTE_KEYS).map(str.lower),
    st.sampled_from(client_rules.ATTRIBUTE_KEYS).map(lambda k: f" {k.upper()} "),
    st.text(max_size=80),
)
_values = st.one_of(
    st.sampled_from(["", "true", "false", "True", "yes"]),
    st.integers(1990, 2010).map(lambda n: "a" * n),
    st.integers(990, 1005).map(lambda n: "_" * n),
    st.text(alphabet="ab_ ,\n", max_size=2100),
    st.text(max_size=100),
)


@given(key=_keys, value=_values, insight=st.booleans())
def test_the_emulator_states_the_attribute_rules_in_the_clients_words(
    key: str, value: str, insight: bool
) -> None:
    """The server's statement of the LookupAttributes rules (emulator.attributes) and the
    client's check before any call (settings.attributes) are written apart (the emulator
    imports nothing of the client) and must give the same answer in the same words."""
    attr = client_rules.LookupAttribute(key, value)
    expected = client_rules.attribute_problem(attr, insight=insight)
    assert server_rules.attribute_problem(key, value, insight=insight) == expected
    assert server_rules.ATTRIBUTE_KEYS == client_rules.ATTRIBUTE_KEYS
    assert server_rules.INSIGHT_KEYS == client_rules.INSIGHT_KEYS
