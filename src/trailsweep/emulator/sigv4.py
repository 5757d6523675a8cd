"""SigV4 verification, the way AWS checks a request signed by botocore or the AWS CLI.

The emulator recomputes the canonical request from what arrived (method, path, query,
the signed headers, the payload hash) and compares signatures in constant time. The
request date is not compared with the emulator's clock: the data clock is usually pinned
in the past, and a skew check would only get in the way of tests.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from multidict import CIMultiDictProxy


class SignatureProblem(Exception):
    """What is wrong with a request's authentication, as an AWS error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


MISSING = "Missing Authentication Token"


def parse_authorization(header: str | None) -> Authorization:
    """Read an `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` header."""
    if not header:
        raise SignatureProblem("MissingAuthenticationTokenException", MISSING)
    algorithm, _, rest = header.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise SignatureProblem("IncompleteSignatureException", f"Unsupported algorithm {algorithm}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    try:
        akid, date, region, service, terminator = fields["Credential"].split("/")
        signed = tuple(fields["SignedHeaders"].split(";"))
        signature = fields["Signature"]
    except (KeyError, ValueError):
        raise SignatureProblem(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders'.",
        ) from None
    if terminator != "aws4_request":
        raise SignatureProblem("IncompleteSignatureException", "Credential must end aws4_request")
    return Authorization(akid, date, region, service, signed, signature)


def _canonical_query(raw: str) -> str:
    if not raw:
        return ""
    pairs = [tuple(p.partition("=")[::2]) for p in raw.split("&")]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def expected_signature(
    auth: Authorization,
    secret: str,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: CIMultiDictProxy[str],
    body: bytes,
) -> str:
    """The signature the request would carry if it was signed with `secret`."""
    lines = []
    for name in auth.signed_headers:
        values = headers.getall(name, [])
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    payload = headers.get("X-Amz-Content-SHA256") or hashlib.sha256(body).hexdigest()
    canonical = "\n".join(
        [
            method.upper(),
            quote(raw_path or "/", safe="/~%"),
            _canonical_query(raw_query),
            "\n".join(lines) + "\n",
            ";".join(auth.signed_headers),
            payload,
        ]
    )
    amz_date = headers.get("X-Amz-Date", "")
    scope = f"{auth.date}/{auth.region}/{auth.service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (auth.date, auth.region, auth.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def signature_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected, given)
