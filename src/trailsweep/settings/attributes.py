"""Lookup attributes: parsing what users type (AWS CLI shorthand or JSON) and the
LookupEvents rules for them, shared by the client (checked before any call) and the
emulator (which answers InvalidLookupAttributesException with the same words)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from trailsweep.base.errors import InputError

ATTRIBUTE_KEYS: tuple[str, ...] = (
    "EventId", "EventName", "ReadOnly", "Username",
    "ResourceType", "ResourceName", "EventSource", "AccessKeyId",
)  # fmt: skip
INSIGHT_KEYS: tuple[str, ...] = ("EventId", "EventName", "EventSource")
MAX_LENGTH = 2000
INVALID = "InvalidLookupAttributesException"
_DOUBLE = "_ ,\n"  # characters LookupEvents counts twice toward MAX_LENGTH
_FIELDS = ("AttributeKey", "AttributeValue")
_PREFIX = "--lookup-attributes: "
_FORM = "AttributeKey=Username,AttributeValue=root"
_JSON_FORM = '[{"AttributeKey":"Username","AttributeValue":"root"}]'
_NAME = re.compile(r"\s*(\w+)\s*=")
_SHOWN = 60  # characters of the user's text quoted back in a message


def _show(text: str) -> str:
    """The user's text, quoted on one line and cut short if long."""
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "...")


@dataclass(frozen=True, slots=True)
class LookupAttribute:
    """One {AttributeKey, AttributeValue} pair, as LookupEvents takes it."""

    key: str
    value: str

    def to_api(self) -> dict[str, str]:
        return {"AttributeKey": self.key, "AttributeValue": self.value}

    @classmethod
    def from_api(cls, obj: object) -> LookupAttribute:
        """The attribute in a JSON object; InputError if it is not exactly that shape."""
        if not isinstance(obj, dict):
            raise InputError(
                f"{_PREFIX}expected an object like {_JSON_FORM[1:-1]}, got {_show(str(obj))}"
            )
        extra = sorted(str(k) for k in obj if k not in _FIELDS)
        if extra:
            raise InputError(
                f"{_PREFIX}unknown field {_show(extra[0])}; "
                "use only AttributeKey and AttributeValue"
            )
        for name in _FIELDS:
            if name not in obj:
                raise InputError(f"{_PREFIX}{name} is missing; write {_JSON_FORM}")
            if not isinstance(obj[name], str):
                kind = type(obj[name]).__name__
                raise InputError(
                    f"{_PREFIX}{name} must be a string, not {kind}; write {_JSON_FORM}"
                )
        return cls(obj["AttributeKey"], obj["AttributeValue"])


def attribute_length(value: str) -> int:
    """Length as LookupEvents counts it: `_`, space, comma and newline count 2."""
    return len(value) + sum(value.count(c) for c in _DOUBLE)


def _value(item: str, pos: int) -> tuple[str, int]:
    """One shorthand value starting at pos, and where it ends (at a comma or the end)."""
    while pos < len(item) and item[pos].isspace():
        pos += 1
    if pos < len(item) and item[pos] in "\"'":
        close = item.find(item[pos], pos + 1)
        if close < 0:
            raise InputError(f"{_PREFIX}unclosed {item[pos]} quote in {_show(item)}; close it")
        end = close + 1
        while end < len(item) and item[end].isspace():
            end += 1
        if end < len(item) and item[end] != ",":
            raise InputError(
                f"{_PREFIX}text after a closing quote in {_show(item)}; quote the whole value"
            )
        return item[pos + 1 : close], end
    chars: list[str] = []
    while pos < len(item) and item[pos] != ",":
        if item.startswith("\\,", pos):  # the AWS CLI's escaped comma
            pos += 1
        chars.append(item[pos])
        pos += 1
    return "".join(chars).rstrip(), pos


def _shorthand(item: str) -> LookupAttribute:
    """AttributeKey=...,AttributeValue=... in any order; values may be quoted."""
    fields: dict[str, str] = {}
    pos = 0
    while True:
        name = _NAME.match(item, pos)
        if not name:
            hint = (
                'quote a value that holds commas: AttributeValue="a,b"' if pos else f"write {_FORM}"
            )
            raise InputError(f"{_PREFIX}cannot read {_show(item)}; {hint} (or JSON {_JSON_FORM})")
        if name.group(1) not in _FIELDS:
            raise InputError(
                f"{_PREFIX}unknown field {_show(name.group(1))} in {_show(item)}; "
                f"the fields are AttributeKey and AttributeValue: {_FORM}"
            )
        if name.group(1) in fields:
            raise InputError(
                f"{_PREFIX}{name.group(1)} given twice in {_show(item)}; "
                "give each attribute as its own item"
            )
        fields[name.group(1)], pos = _value(item, name.end())
        if pos >= len(item):
            break
        pos += 1  # the comma
    missing = [f for f in _FIELDS if f not in fields]
    if missing:
        raise InputError(f"{_PREFIX}{missing[0]} is missing in {_show(item)}; write {_FORM}")
    return LookupAttribute(fields["AttributeKey"], fields["AttributeValue"])


def parse_lookup_attributes(items: Sequence[str]) -> list[LookupAttribute]:
    """Attributes from --lookup-attributes items: shorthand, or JSON (a list or one object).

    Only the shape is checked here; validate_attributes applies the LookupEvents rules.
    """
    out: list[LookupAttribute] = []
    for item in items:
        text = item.strip()
        if not text.startswith(("[", "{")):
            out.append(_shorthand(text))
            continue
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise InputError(
                f"{_PREFIX}{_show(text)} is not valid JSON; write {_JSON_FORM} or {_FORM}"
            ) from None
        out.extend(LookupAttribute.from_api(d) for d in (doc if isinstance(doc, list) else [doc]))
    return out


def attribute_problem(attr: LookupAttribute, *, insight: bool = False) -> str | None:
    """What is wrong with one attribute under the LookupEvents rules, or None."""
    if attr.key not in ATTRIBUTE_KEYS:
        near = [k for k in ATTRIBUTE_KEYS if k.lower() == attr.key.strip().lower()]
        if near:
            return f"unknown attribute key {_show(attr.key)}; did you mean {near[0]!r}?"
        return f"unknown attribute key {_show(attr.key)}; valid keys: {', '.join(ATTRIBUTE_KEYS)}"
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
            "(each _, space, comma and newline counts double); shorten it"
        )
    if attr.key == "ReadOnly" and attr.value not in ("true", "false"):
        return f"ReadOnly takes true or false (lower case), not {_show(attr.value)}"
    return None


def validate_attributes(
    attrs: Sequence[LookupAttribute], *, insight: bool = False, max_items: int | None = 1
) -> None:
    """Raise InputError (one line) if the attributes break a LookupEvents rule."""
    if max_items is not None and len(attrs) > max_items:
        allowed = "one lookup attribute" if max_items == 1 else f"{max_items} lookup attributes"
        raise InputError(
            f"{_PREFIX}LookupEvents accepts {allowed} per call, got {len(attrs)}; "
            "keep the most selective one and filter the output for the rest",
            code=INVALID,
        )
    for attr in attrs:
        problem = attribute_problem(attr, insight=insight)
        if problem:
            raise InputError(_PREFIX + problem, code=INVALID)
