"""CloudTrail LookupEvents, exactly per "The LookupEvents contract" in docs/design.md.

Validation order: MaxResults, EventCategory, LookupAttributes, time range, NextToken.
NextTokens are stateless: they name the position of the next event, a hash of the query
they belong to and when they were issued, sealed with an HMAC. A token used with other
attributes, times or category, for another pair, after its time to live, or tampered with
gets InvalidNextTokenException.

Delivery lag (lag.py): a page holds only events that have arrived by the data clock's
now (`History.events`, the rule the ground truth uses too). Positions do not move with
arrivals, so a NextToken stays valid; an event not yet arrived is skipped, not
reserved. Decision: a token is read at the data time it is used, not the one it was
issued at: events older than its position that arrived in between show on the later
pages, while those newer than its position show only to a new query (from the top), as
a paginated walk of a store that keeps receiving late events would see them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from dataclasses import dataclass
from typing import Any

import orjson

from trailsweep.emulator.attributes import attribute_problem
from trailsweep.emulator.history import History
from trailsweep.emulator.lag import Lag
from trailsweep.emulator.protocol import ApiError

_INVALID_TOKEN = "InvalidNextTokenException"  # noqa: S105 - an error code, not a secret


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    events: int


class LookupEvents:
    """Answers LookupEvents for one emulator; `token_key` seals its NextTokens."""

    def __init__(self, history: History, token_key: bytes) -> None:
        self.history = history
        self._key = token_key

    def __call__(
        self, account: str, region: str, req: dict[str, Any], *, data_now: int, wall: float,
        token_ttl: float, retention_days: int, lag: Lag | None = None,
    ) -> Page:  # fmt: skip
        max_results = req.get("MaxResults", 50)
        if type(max_results) is not int or not 1 <= max_results <= 50:
            raise ApiError(
                "InvalidMaxResultsException",
                f"Value {max_results} for MaxResults is invalid: it must be between 1 and 50.",
            )
        category = req.get("EventCategory")
        if category is not None and category != "insight":
            raise ApiError(
                "InvalidEventCategoryException",
                f"Event category {category!r} is not valid. The only valid value is insight.",
            )
        insight = category == "insight"
        attribute = _attribute(req.get("LookupAttributes"), insight=insight)
        start_raw, end_raw = req.get("StartTime"), req.get("EndTime")
        for name, value in (("StartTime", start_raw), ("EndTime", end_raw)):
            if value is not None and not isinstance(value, int | float):
                raise ApiError("SerializationException", f"{name} must be a timestamp")
        oldest = data_now - retention_days * 86400
        start = oldest if start_raw is None else math.ceil(start_raw)
        end = data_now if end_raw is None else math.floor(end_raw)
        if start_raw is not None and end_raw is not None and start_raw > end_raw:
            raise ApiError(
                "InvalidTimeRangeException",
                "Start time must be before end time. "
                "Choose a start time earlier than the end time.",
            )
        start, end = max(start, oldest), min(end, data_now)
        query = orjson.dumps([account, region, attribute, _num(start_raw), _num(end_raw), category])
        after = None
        token = req.get("NextToken")
        if token is not None:
            after = self._open(token, query, wall, token_ttl)
        wanted = max_results + 1  # one more, to know whether a NextToken is needed
        found = []
        if start <= end:
            for ev in self.history.events(
                account, region, start=start, end=end, insight=insight,
                attribute=attribute, after=after, arrived_by=data_now, lag=lag,
            ):  # fmt: skip
                found.append(ev)
                if len(found) == wanted:
                    break
        page = found[:max_results]
        parts = [b'{"Events":[', b",".join(self.history.rendered(account, region, e) for e in page)]
        if len(found) == wanted:
            nxt = found[-1]
            parts.append(b'],"NextToken":"' + self._seal(nxt.hour, nxt.rank, query, wall) + b'"}')
        else:
            parts.append(b"]}")
        return Page(b"".join(parts), len(page))

    # tokens ------------------------------------------------------------------------
    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:12]

    def _seal(self, hour: int, rank: int, query: bytes, wall: float) -> bytes:
        qhash = hashlib.sha256(query).hexdigest()[:16]
        payload = orjson.dumps([1, hour, rank, qhash, round(wall, 3)])
        return base64.urlsafe_b64encode(payload + self._mac(payload)).rstrip(b"=")

    def _open(self, token: object, query: bytes, wall: float, ttl: float) -> tuple[int, int]:
        if not isinstance(token, str) or not token:
            raise ApiError(_INVALID_TOKEN, "Invalid NextToken.")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            payload, mac = raw[:-12], raw[-12:]
            if not hmac.compare_digest(mac, self._mac(payload)):
                raise ValueError("tampered")
            version, hour, rank, qhash, issued = orjson.loads(payload)
        except (ValueError, TypeError, orjson.JSONDecodeError):
            raise ApiError(_INVALID_TOKEN, "Invalid NextToken.") from None
        if version != 1 or qhash != hashlib.sha256(query).hexdigest()[:16]:
            raise ApiError(
                _INVALID_TOKEN,
                "The NextToken is not valid for this request: the lookup attributes, "
                "time range and event category must match the request that returned it.",
            )
        if wall - issued > ttl:
            raise ApiError(_INVALID_TOKEN, "The NextToken has expired.")
        return int(hour), int(rank)


def _num(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _attribute(raw: object, *, insight: bool) -> tuple[str, str] | None:
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list):
        raise ApiError("InvalidLookupAttributesException", "LookupAttributes must be a list.")
    if len(raw) > 1:
        raise ApiError(
            "InvalidLookupAttributesException",
            "You can specify only one lookup attribute per request.",
        )
    item = raw[0]
    if not isinstance(item, dict) or not isinstance(item.get("AttributeKey"), str):
        raise ApiError("InvalidLookupAttributesException", "AttributeKey is required.")
    value = item.get("AttributeValue")
    if not isinstance(value, str):
        raise ApiError("InvalidLookupAttributesException", "AttributeValue is required.")
    key = item["AttributeKey"]
    problem = attribute_problem(key, value, insight=insight)
    if problem:
        raise ApiError("InvalidLookupAttributesException", problem)
    return key, value
