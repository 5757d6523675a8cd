"""Filters beyond what LookupEvents can do, and the plan that splits a filter into the part
the server runs and the part the client runs.

LookupEvents takes one attribute per call. Given several `--lookup-attributes`, the rule is
AND across different keys and OR across the values of one key. `plan_filters` pushes one
key down to the API (the most selective present, in `PUSH_ORDER`): each of its values
becomes its own NextToken chain (merged newest first and de-duplicated by EventId); every
other key is checked on each returned event. `--where PATH OP VALUE` clauses test the full
CloudTrail record (the CloudTrailEvent JSON) on the client, all of them ANDed.

Decisions (there was nobody to ask):
- `!=` and `!~` hold when no value at the path matches, an absent field included (as
  SQL's IS DISTINCT FROM); add `PATH exists` to require the field.
- `exists` means present and not null: CloudTrail writes `"responseElements": null` for
  calls that return nothing, and "has a response" is what people mean. An empty list or
  object is present.
- Values are compared as text: strings as they are, true/false/null and numbers as JSON
  writes them (`errorCode=null` matches a null), objects as compact JSON. Spaces around
  the operator are ignored (`userIdentity.type = Root`), so a value cannot start or end
  with a space; match those with `~`. A path that crosses a list tests every element
  (any match is a match); a number picks one element (`resources.0.ARN`).
- `~` is a Python regular expression searched anywhere in the text (anchor with ^ $).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from trailsweep.base.errors import InputError
from trailsweep.settings.attributes import LookupAttribute

# Most selective first: an EventId names one event; ReadOnly splits the history in two.
PUSH_ORDER: tuple[str, ...] = (
    "EventId", "AccessKeyId", "ResourceName", "Username",
    "EventName", "ResourceType", "EventSource", "ReadOnly",
)  # fmt: skip

Op = Literal["=", "!=", "~", "!~", "exists", "!exists"]
_SEGMENT = r"[A-Za-z0-9_$@:-]+"
_PATH = rf"{_SEGMENT}(?:\.{_SEGMENT})*"
_COMPARE = re.compile(rf"^\s*({_PATH})\s*(!=|=|!~|~)(.*)$", re.DOTALL)
_EXISTS = re.compile(rf"^\s*(!?)\s*({_PATH})\s+(!?exists)\s*$")
_FORMS = "PATH=VALUE, PATH!=VALUE, PATH~REGEX, PATH!~REGEX or 'PATH exists'"
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Where:
    """One `--where` clause on the CloudTrail record."""

    text: str
    path: tuple[str, ...]
    op: Op
    value: str = ""
    pattern: re.Pattern[str] | None = None

    def test(self, record: Any) -> bool:
        if self.op in ("exists", "!exists"):
            present = any(v is not None for v in _walk(record, self.path, leaf_lists=False))
            return present if self.op == "exists" else not present
        found = list(_walk(record, self.path))
        match self.op:
            case "=":
                return any(_text(v) == self.value for v in found)
            case "!=":
                return not any(_text(v) == self.value for v in found)
        assert self.pattern is not None
        hit = any(self.pattern.search(_text(v)) for v in found)
        return hit if self.op == "~" else not hit


def parse_where(text: str) -> Where:
    """A clause as typed; InputError (one line, with the forms) if it cannot be read."""
    exists = _EXISTS.match(text)
    if exists:
        negate = (exists.group(1) == "!") != (exists.group(3) == "!exists")
        op: Op = "!exists" if negate else "exists"
        return Where(text, tuple(exists.group(2).split(".")), op)
    compare = _COMPARE.match(text)
    if not compare:
        raise InputError(
            f"--where: cannot read {text!r}; write {_FORMS}, where PATH is a dotted field "
            "of the CloudTrail record (e.g. userIdentity.type=Root, errorCode~AccessDenied)"
        )
    path, op_text, value = compare.group(1), compare.group(2), compare.group(3).strip()
    _refuse_slips(text, path, op_text, value)
    pattern = None
    if op_text in ("~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as err:
            raise InputError(
                f"--where: {text!r}: {value!r} is not a valid regular expression ({err}); "
                "fix it, or escape special characters with \\"
            ) from None
    return Where(text, tuple(path.split(".")), op_text, value, pattern)  # type: ignore[arg-type]


def _refuse_slips(text: str, path: str, op: str, value: str) -> None:
    """Clauses that parse but cannot mean what was typed: `PATH==VALUE` (the test would be
    against "=VALUE"), `PATH=~REGEX` (against "~REGEX"), and `PATH=` with nothing after
    it (an unset shell variable, typically; it would test for an empty string)."""
    if op not in ("=", "!="):
        return
    if value[:1] in ("=", "~"):
        rest = value[1:].strip() or ("VALUE" if value[0] == "=" else "REGEX")
        meant = f"{path}{op}{rest}" if value[0] == "=" else f"{path}{op[:-1]}~{rest}"
        raise InputError(
            f"--where: {text!r}: {op}{value[0]} is not an operator; write {meant!r} ({_FORMS})"
        )
    if not value:
        raise InputError(
            f"--where: {text!r} has no value after {op}; write {path}{op}VALUE, "
            f"'{path} !exists' for an absent field, or {path}~^$ for an empty one"
        )


class PathsSeen:
    """Which `--where` paths appeared (present, even null) in some record a sweep read:
    one that never did is most likely a typo, which the summary names (cli/logs.py). Each
    sweep makes its own (sweep.sweep_chunks); a path is looked for only until found."""

    __slots__ = ("missing", "records")

    def __init__(self, where: Sequence[Where]) -> None:
        self.missing: dict[tuple[str, ...], str] = {}
        for clause in where:
            self.missing.setdefault(clause.path, ".".join(clause.path))
        self.records = 0  # records tested

    def note(self, record: Any) -> None:
        self.records += 1
        if self.missing:
            found = [p for p in self.missing if _present(record, p)]
            for path in found:
                del self.missing[path]


def _present(record: Any, path: tuple[str, ...]) -> bool:
    return next(_walk(record, path, leaf_lists=False), _MISSING) is not _MISSING


def _walk(node: Any, path: Sequence[str], *, leaf_lists: bool = True) -> Iterator[Any]:
    """Every value at `path` under `node`: lists on the way fan out unless indexed; a list
    at the end fans out too when `leaf_lists` (comparisons test its elements), and is one
    value otherwise (`exists`: an empty list is there)."""
    if not path:
        if leaf_lists and isinstance(node, list):
            yield from node
        else:
            yield node
        return
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        child = node.get(head, _MISSING)
        if child is not _MISSING:
            yield from _walk(child, rest, leaf_lists=leaf_lists)
    elif isinstance(node, list):
        if head.isdigit():
            index = int(head)
            if index < len(node):
                yield from _walk(node[index], rest, leaf_lists=leaf_lists)
            return
        for item in node:
            yield from _walk(item, path, leaf_lists=leaf_lists)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _api_values(event: dict[str, Any], key: str) -> Iterator[Any]:
    """The values of a lookup attribute in one LookupEvents event (as the API matches it)."""
    if key in ("ResourceType", "ResourceName"):
        for resource in event.get("Resources") or ():
            yield resource.get(key)
    else:
        yield event.get(key)


@dataclass(frozen=True, slots=True)
class Plan:
    """How a filter runs: `pushed` is one attribute per NextToken chain (empty: one chain
    with no attribute), `rest` the other keys with their accepted values (AND across keys,
    OR within one), `where` the record clauses."""

    pushed: tuple[LookupAttribute, ...] = ()
    rest: tuple[tuple[str, frozenset[str]], ...] = ()
    where: tuple[Where, ...] = ()
    seen: PathsSeen | None = field(default=None, compare=False, repr=False)

    @property
    def chains(self) -> tuple[LookupAttribute | None, ...]:
        return self.pushed or (None,)

    def predicate(self) -> Callable[[dict[str, Any]], bool] | None:
        """The client-side test of one LookupEvents event, or None when there is none."""
        rest, where, seen = self.rest, self.where, self.seen
        if not rest and not where:
            return None

        def accept(event: dict[str, Any]) -> bool:
            for key, values in rest:
                if not any(v in values for v in _api_values(event, key)):
                    return False
            if where:
                text = event.get("CloudTrailEvent")
                try:
                    record = orjson.loads(text) if isinstance(text, str) else {}
                except orjson.JSONDecodeError:
                    record = {}
                if seen is not None:
                    seen.note(record)
                return all(clause.test(record) for clause in where)
            return True

        return accept

    def describe(self) -> str:
        """One line for --help-like summaries: what the server does, what the client does."""
        server = " OR ".join(f"{a.key}={a.value}" for a in self.pushed) or "everything"
        client = [f"{k} in {sorted(v)}" for k, v in self.rest] + [w.text for w in self.where]
        return f"server: {server}; client: {' AND '.join(client) or 'nothing'}"


def plan_filters(
    attributes: Sequence[LookupAttribute],
    where: Sequence[Where] = (),
    seen: PathsSeen | None = None,
) -> Plan:
    """Split the filter: the most selective key goes to the API, the rest to the client
    (`seen`, if given, learns which `where` paths the records hold)."""
    by_key: dict[str, list[str]] = {}
    for attr in attributes:
        values = by_key.setdefault(attr.key, [])
        if attr.value not in values:
            values.append(attr.value)
    if not by_key:
        return Plan(where=tuple(where), seen=seen)
    push = min(by_key, key=PUSH_ORDER.index)
    pushed = tuple(LookupAttribute(push, v) for v in by_key.pop(push))
    rest = tuple((k, frozenset(v)) for k, v in sorted(by_key.items()))
    return Plan(pushed, rest, tuple(where), seen)
