"""Wire formats: how each AWS protocol spells success and failure.

CloudTrail and Organizations speak JSON 1.1, STS the query protocol (XML), EC2 its own
XML dialect, the Account service REST-JSON. Errors must look exactly the way botocore
expects so that it reports the right code.
"""

from __future__ import annotations

import uuid
from typing import Literal
from xml.sax.saxutils import escape

import orjson
from aiohttp import web

Protocol = Literal["json", "query", "ec2", "rest-json"]
JSON_11 = "application/x-amz-json-1.1"


class ApiError(Exception):
    """An AWS error to send back: code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def request_id() -> str:
    return str(uuid.uuid4())


def json_response(body: bytes, content_type: str = JSON_11) -> web.Response:
    return web.Response(
        body=body,
        headers={"Content-Type": content_type, "x-amzn-RequestId": request_id()},
    )


def xml_response(body: str) -> web.Response:
    return web.Response(
        body=body.encode(),
        headers={"Content-Type": "text/xml", "x-amzn-RequestId": request_id()},
    )


def error_response(protocol: Protocol, err: ApiError) -> web.Response:
    rid = request_id()
    if protocol in ("json", "rest-json"):
        payload = {"__type": err.code, "message": err.message}
        if protocol == "rest-json":
            payload = {"message": err.message}
        return web.Response(
            status=err.status,
            body=orjson.dumps(payload),
            headers={
                "Content-Type": JSON_11 if protocol == "json" else "application/json",
                "x-amzn-ErrorType": err.code,
                "x-amzn-RequestId": rid,
            },
        )
    code, message = escape(err.code), escape(err.message)
    if protocol == "ec2":
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{message}</Message></Error></Errors><RequestID>{rid}</RequestID></Response>"
        )
    else:
        kind = "Sender" if err.status < 500 else "Receiver"
        body = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
            f"<Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{rid}</RequestId></ErrorResponse>"
        )
    return web.Response(status=err.status, body=body.encode(), headers={"Content-Type": "text/xml"})


# The same failure has a different code in each protocol.
AUTH_CODES: dict[str, dict[Protocol, tuple[str, int]]] = {
    "unknown-key": {
        "json": ("UnrecognizedClientException", 400),
        "rest-json": ("UnrecognizedClientException", 403),
        "query": ("InvalidClientTokenId", 403),
        "ec2": ("AuthFailure", 401),
    },
    "bad-signature": {
        "json": ("InvalidSignatureException", 400),
        "rest-json": ("InvalidSignatureException", 403),
        "query": ("SignatureDoesNotMatch", 403),
        "ec2": ("AuthFailure", 401),
    },
    "expired": {
        "json": ("ExpiredTokenException", 400),
        "rest-json": ("ExpiredTokenException", 403),
        "query": ("ExpiredToken", 400),
        "ec2": ("RequestExpired", 400),
    },
}
AUTH_MESSAGES = {
    "unknown-key": "The security token included in the request is invalid.",
    "bad-signature": (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    ),
    "expired": "The security token included in the request is expired",
}


def auth_error(kind: str, protocol: Protocol) -> ApiError:
    code, status = AUTH_CODES[kind][protocol]
    return ApiError(code, AUTH_MESSAGES[kind], status)


def scope_error(service: str, protocol: Protocol) -> ApiError:
    """A request whose credential scope names another service (signed for `s3`, sent to
    CloudTrail): each protocol's signature error, with AWS's words (and trailing space).
    EC2 reports every credential problem as AuthFailure ("Credential must have exactly 5
    slash-delimited elements"), so it does this one too."""
    code, status = AUTH_CODES["bad-signature"][protocol]
    return ApiError(code, f"Credential should be scoped to correct service: '{service}'. ", status)
