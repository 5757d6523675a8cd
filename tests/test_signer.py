"""The lean path's SigV4 signer gives byte-identical headers to botocore's SigV4Auth."""

from __future__ import annotations

import datetime
import random
import string

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from trailsweep.aws.lean import _HEADERS
from trailsweep.aws.signer import Signer, amz_date

URLS = [
    "http://127.0.0.1:41234/",
    "http://127.0.0.1:80/",
    "https://cloudtrail.us-east-1.amazonaws.com/",
    "https://CloudTrail.eu-west-1.amazonaws.com:443/",
    "https://cloudtrail.ap-southeast-1.amazonaws.com:8443/",
    "http://[::1]:4566/",
    "http://localhost:4566/some/prefix/",
    "http://localhost:4566/a/../b/./c/?z=1&a=2",
]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-1", "us-gov-west-1"]


def _botocore(
    url: str, region: str, body: bytes, creds: Credentials, when: datetime.datetime
) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(_HEADERS))
    auth = SigV4Auth(creds, "cloudtrail", region)
    saved = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda *a, **k: when
    try:
        auth.add_auth(request)
    finally:
        botocore.auth.get_current_datetime = saved
    return dict(request.headers)


def _text(rng: random.Random, n: int, alphabet: str = string.printable) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


@pytest.mark.parametrize("seed", range(40))
def test_same_headers_as_botocore(seed: int) -> None:
    rng = random.Random(seed)
    url, region = rng.choice(URLS), rng.choice(REGIONS)
    when = datetime.datetime(2000, 1, 1) + datetime.timedelta(
        seconds=rng.randrange(0, 100 * 365 * 86400)
    )
    body = rng.choice(
        [
            b"",
            b"{}",
            _text(rng, rng.randrange(1, 400)).encode(),
            bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))),
        ]
    )
    token = rng.choice(
        [None, "", _text(rng, 300, string.ascii_letters + string.digits + "/+="), " a  b\tc "]
    )
    creds = Credentials(
        "AKIA" + _text(rng, 16, string.ascii_uppercase + string.digits),
        _text(rng, 40, string.ascii_letters + string.digits + "/+"),
        token,
    )
    signer = Signer(url, region, "cloudtrail", _HEADERS)
    timestamp = amz_date(when.replace(tzinfo=datetime.UTC).timestamp())
    for _ in range(2):  # the second call uses the cached signing key
        ours = signer.sign(body, creds.access_key, creds.secret_key, creds.token, timestamp)
        theirs = _botocore(url, region, body, creds, when)
        assert ours == theirs
        assert list(ours) == list(theirs)


def test_key_follows_day_and_secret() -> None:
    signer = Signer(URLS[0], "us-east-1", "cloudtrail", _HEADERS)
    creds = [Credentials("AKIAEXAMPLE", s) for s in ("secret-one", "secret-two")]
    day = datetime.datetime(2030, 5, 1, 23, 59, 59)
    for when in (day, day + datetime.timedelta(seconds=1)):
        for c in creds:
            stamp = amz_date(when.replace(tzinfo=datetime.UTC).timestamp())
            got = signer.sign(b"{}", c.access_key, c.secret_key, None, stamp)
            assert got == _botocore(URLS[0], "us-east-1", b"{}", c, when)


def test_refuses_headers_it_sets() -> None:
    with pytest.raises(ValueError, match="x-amz-date"):
        Signer(URLS[0], "us-east-1", "cloudtrail", {"X-Amz-Date": "x"})
