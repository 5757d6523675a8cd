"""Lookup attributes: parsing what users type (AWS CLI shorthand or JSON) and the
LookupEvents rules for them, shared by the client (checked before any call) and the
emulator (which answers InvalidLookupAttributesException with the same words)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from trailsweep.errors import InputError

ATTRIBUTE_KEYS = (
    "EventId", "EventName", "ReadOnly", "Username",
    "ResourceType", "ResourceName", "EventSource", "AccessKeyId",
)  # fmt: skip
INSIGHT_KEYS = ("EventId", "EventName", "EventSource")
MAX_LENGTH = 2000
_PREFIX = "--lookup-attributes: "
_FORM = "AttributeKey=Username,AttributeValue=root"
_SHORTHAND = re.compile(r"""\s*(\w+)=("([^"]*)"|'([^']*)'|([^,]*))\s*(,|$)""")


@dataclass(frozen=True, slots=True)
class LookupAttribute:
    key: str
    value: str

    def to_api(self) -> dict[str, str]:
        return {"AttributeKey": self.key, "AttributeValue": self.value}

    @classmethod
    def from_api(cls, obj: object) -> LookupAttribute:
        if not isinstance(obj, dict):
            raise InputError(
                f'{_PREFIX}expected an object like {{"AttributeKey": ..., "AttributeValue": ...}}'
            )
        extra = set(obj) - {"AttributeKey", "AttributeValue"}
        if extra:
            raise InputError(
                f"{_PREFIX}unknown field {sorted(extra)[0]!r}; use AttributeKey and AttributeValue"
            )
        key, value = obj.get("AttributeKey"), obj.get("AttributeValue")
        if not isinstance(key, str) or not isinstance(value, str):
            raise InputError(f"{_PREFIX}AttributeKey and AttributeValue must both be strings")
        return cls(key, value)


def attribute_length(value: str) -> int:
    """Length as LookupEvents counts it: `_`, space, comma and newline count 2."""
    return len(value) + sum(value.count(c) for c in "_ ,\n")


def _shorthand(item: str) -> LookupAttribute:
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(item):
        m = _SHORTHAND.match(item, pos)
        if not m or m.end() == pos:
            raise InputError(f"{_PREFIX}cannot read {item!r}; write {_FORM} or JSON")
        name = m.group(1)
        if name not in ("AttributeKey", "AttributeValue"):
            raise InputError(f"{_PREFIX}unknown field {name!r} in {item!r}; use {_FORM}")
        value = next(g for g in (m.group(3), m.group(4), m.group(5)) if g is not None)
        fields[name] = value
        pos = m.end()
    if set(fields) != {"AttributeKey", "AttributeValue"}:
        raise InputError(f"{_PREFIX}{item!r} needs both AttributeKey and AttributeValue: {_FORM}")
    return LookupAttribute(fields["AttributeKey"], fields["AttributeValue"])


def parse_lookup_attributes(items: Sequence[str]) -> list[LookupAttribute]:
    """Attributes from --lookup-attributes items: shorthand, or JSON (a list or one object)."""
    out: list[LookupAttribute] = []
    for item in items:
        text = item.strip()
        if text.startswith(("[", "{")):
            try:
                doc = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise InputError(
                    f"{_PREFIX}{text[:40]!r} is not valid JSON; write "
                    '[{"AttributeKey":"Username","AttributeValue":"root"}] or ' + _FORM
                ) from None
            out.extend(
                LookupAttribute.from_api(d) for d in (doc if isinstance(doc, list) else [doc])
            )
        else:
            out.append(_shorthand(text))
    return out


def attribute_problem(attr: LookupAttribute, *, insight: bool = False) -> str | None:
    """What is wrong with one attribute under the LookupEvents rules, or None."""
    if attr.key not in ATTRIBUTE_KEYS:
        near = [k for k in ATTRIBUTE_KEYS if k.lower() == attr.key.lower()]
        if near:
            return (
                f"unknown attribute key {attr.key!r}; keys are case-sensitive: "
                f"did you mean {near[0]!r}?"
            )
        return f"unknown attribute key {attr.key!r}; valid keys: {', '.join(ATTRIBUTE_KEYS)}"
    if insight and attr.key not in INSIGHT_KEYS:
        return (
            f"{attr.key} cannot filter Insights events; with event category insight "
            f"use {', '.join(INSIGHT_KEYS)}"
        )
    if not attr.value:
        return f"the value of {attr.key} is empty; give 1 to {MAX_LENGTH} characters"
    length = attribute_length(attr.value)
    if length > MAX_LENGTH:
        return (
            f"the value of {attr.key} counts {length} characters, over the {MAX_LENGTH} allowed "
            "(each _, space, comma and newline counts double)"
        )
    if attr.key == "ReadOnly" and attr.value not in ("true", "false"):
        return f"ReadOnly takes true or false, not {attr.value!r}"
    return None


def validate_attributes(
    attrs: Sequence[LookupAttribute], *, insight: bool = False, max_items: int | None = 1
) -> None:
    """Raise InputError (one line) if the attributes break a LookupEvents rule."""
    if max_items is not None and len(attrs) > max_items:
        raise InputError(
            f"{_PREFIX}LookupEvents accepts one lookup attribute per call, got {len(attrs)}; "
            "keep the most selective one"
        )
    for attr in attrs:
        problem = attribute_problem(attr, insight=insight)
        if problem:
            raise InputError(_PREFIX + problem)
