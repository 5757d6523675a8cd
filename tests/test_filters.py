"""Filters beyond the API: --where on the record, AND/OR of --lookup-attributes, the plan
that pushes one key down, and sweeps over real HTTP that must equal a brute-force filter
of the emulator's ground truth (written here from the documented semantics)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import aclosing, suppress
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from trailsweep.base.errors import InputError
from trailsweep.cli.sweep import LOOKUP_ATTRIBUTES_HELP
from trailsweep.emulator import EmulatorThread
from trailsweep.engine.pair import SweepEvent
from trailsweep.engine.sweep import SweepReport, sweep
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.output.checkpoint_spec import spec_of
from trailsweep.output.sink import prepare_export, run_export
from trailsweep.settings.attributes import ATTRIBUTE_KEYS, LookupAttribute
from trailsweep.settings.config import Options, SweepSettings, build_config
from trailsweep.settings.filters import PUSH_ORDER, parse_where, plan_filters
from trailsweep.settings.query import QueryInput, build_query
from trailsweep.settings.timeparse import format_time, from_epoch

from support import NOW_EPOCH, aws_env, run_cli, settings

START, END = NOW_EPOCH - 3 * 3600, NOW_EPOCH - 1
# As documented in `sweep --help`; the brute force below uses this, not filters.py.
DOC_PUSH_ORDER = ("EventId", "AccessKeyId", "ResourceName", "Username",
                  "EventName", "ResourceType", "EventSource", "ReadOnly")  # fmt: skip

RECORD: dict[str, Any] = {
    "eventName": "GetObject", "errorCode": None, "readOnly": True, "count": 5, "ratio": 0.5,
    "userIdentity": {"type": "AssumedRole", "session": {"mfa": "false", "n": None}},
    "requestParameters": {"bucketName": "logs-prod", "maxKeys": 1000, "tags": ["a", "b"]},
    "responseElements": None, "odd-key$@:": "a=b ~c",
    "resources": [{"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::logs-prod"},
                  {"type": "AWS::S3::Object", "ARN": None}],
}  # fmt: skip
HOLD = """eventName=GetObject | eventName!=PutObject | missing!=x | missing!~. | missing !exists
| !missing exists | errorCode !exists | errorCode!=AccessDenied | errorCode~.* | eventName exists
| errorCode=null | eventName = GetObject | userIdentity.type =  AssumedRole | count != 6
| userIdentity exists | readOnly=true | readOnly!=false | readOnly~^tru | count=5 | ratio=0.5
| requestParameters.maxKeys=1000 | requestParameters.maxKeys~^10+$ | resources.ARN exists
| resources.type=AWS::S3::Object | resources.type=AWS::S3::Bucket | resources.ARN~^arn:aws:s3
| resources.type!=AWS::EC2::Instance | requestParameters.tags=b | requestParameters.tags.1=b
| resources.1.type=AWS::S3::Object | resources.1.ARN !exists | resources.7.type!=x
| userIdentity.session={"mfa":"false","n":null} | eventName~Obj | eventName~^Get | eventName~
| eventName~Object$ | eventName~(?i)getOBJECT | eventName!~Put | requestParameters~bucketName
| odd-key$@:=a=b ~c | odd-key$@: exists | odd-key$@:~=b\\s~c$"""
FAIL = """eventName=getobject | eventName=Get | eventName!=GetObject | missing=x | missing~.
| missing exists | !missing !exists | eventName.deeper exists | errorCode exists | errorCode!~.*
| errorCode!=null | eventName= getobject
| responseElements exists | !eventName exists | readOnly=True | count=5.0 | eventName~^Obj
| resources.type!=AWS::S3::Object | requestParameters.tags!=b | requestParameters.tags.0=b
| resources.0.type=AWS::S3::Object | resources.1.ARN exists | resources.7.type exists
| userIdentity.session.n exists | eventName!~G.t"""


@pytest.mark.parametrize(("clause", "holds"), [(c.strip(), True) for c in HOLD.split("|")]
                         + [(c.strip(), False) for c in FAIL.split("|")])  # fmt: skip
def test_where_on_a_hand_written_record(clause: str, holds: bool) -> None:
    """Each operator; absent and null fields; lists fan out; a number picks one element;
    non-strings compare as JSON text; ~ searches anywhere."""
    assert parse_where(clause).test(RECORD) is holds


def test_exists_on_an_empty_list() -> None:
    """`exists` means "present and not null": a field holding `{}`, `[]` (common in
    CloudTrail: `"items": []`) or `[null]` is present (this was a bug: `[]` read as absent);
    comparisons still test the elements."""
    record: dict[str, Any] = {"requestParameters": {"tags": [], "filter": {}, "n": [None]}}
    for path in ("requestParameters.filter", "requestParameters.tags", "requestParameters.n"):
        assert parse_where(f"{path} exists").test(record)
        assert not parse_where(f"{path} !exists").test(record)
    assert not parse_where("requestParameters.tags=[]").test(record)
    assert not parse_where("requestParameters.tags~.").test(record)
    assert parse_where("requestParameters.n=null").test(record)


@pytest.mark.parametrize("text", [
    "", "   ", "eventName", "=Root", ".a=b", "a..b=c", "a.=b", "a b=c", "exists", "a exists b",
    "a?=b", "a!b", "eventName~(", "eventName!~[a-", "a~*x", "a~(?P<n)",
])  # fmt: skip
def test_malformed_clauses_and_bad_regexes_are_one_line_input_errors(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_where(text)
    message = str(info.value)
    assert message.startswith("--where: ") and "\n" not in message
    assert ("regular expression" in message) == ("~" in text)
    with pytest.raises(InputError):
        build_query(QueryInput(where=["eventName=x", text]), now=datetime.now(UTC))


def _attrs(*pairs: tuple[str, str]) -> list[LookupAttribute]:
    return [LookupAttribute(k, v) for k, v in pairs]


def test_plan_pushes_the_most_selective_key_and_checks_the_rest() -> None:
    """The key pushed down is the first present in PUSH_ORDER (as `sweep --help` says), one
    chain per distinct value in the order given; other keys OR their values on the client."""
    assert PUSH_ORDER == DOC_PUSH_ORDER and sorted(PUSH_ORDER) == sorted(ATTRIBUTE_KEYS)
    assert " ".join(DOC_PUSH_ORDER) in " ".join(LOOKUP_ATTRIBUTES_HELP.split())
    for i, first in enumerate(PUSH_ORDER):
        for later in PUSH_ORDER[i + 1 :]:
            plan = plan_filters(_attrs((later, "x"), (first, "y"), (later, "z")))
            assert (plan.pushed, plan.rest) == ((LookupAttribute(first, "y"),),
                                                ((later, frozenset("xz")),))  # fmt: skip
    where = (parse_where("errorCode exists"),)
    plan = plan_filters(_attrs(("ReadOnly", "true"), ("EventName", "B"), ("Username", "u"),
                               ("EventName", "A"), ("EventName", "B")), where)  # fmt: skip
    assert plan.pushed == tuple(_attrs(("Username", "u"))) and plan.where == where
    assert plan.rest == (("EventName", frozenset("AB")), ("ReadOnly", frozenset({"true"})))
    repeated = plan_filters(_attrs(("EventName", "B"), ("EventName", "A"), ("EventName", "B")))
    assert repeated.chains == tuple(_attrs(("EventName", "B"), ("EventName", "A")))
    assert repeated.rest == () and repeated.predicate() is None
    assert plan_filters([]).chains == plan_filters([], where).chains == (None,)
    assert plan_filters([]).predicate() is None
    attrs = _attrs(
        ("EventId", "e"), ("ResourceType", "T2"), ("ResourceType", "T9"), ("Username", "al")
    )
    accept = plan_filters(attrs, [parse_where("readOnly!=true")]).predicate()
    ok = {"Username": "al", "Resources": [{"ResourceType": "T1"}, {"ResourceType": "T2"}],
          "CloudTrailEvent": '{"readOnly":false}'}  # fmt: skip
    assert accept is not None and accept(ok) and accept({**ok, "CloudTrailEvent": "not json"})
    bad: dict[str, Any]
    for bad in ({"Username": None}, {"Resources": []}, {"CloudTrailEvent": '{"readOnly":true}'}):
        assert not accept({**ok, **bad})


# ---- sweeps over real HTTP against the ground truth -----------------------------------


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    fast = {"rate": 1000.0, "burst": 1000.0}
    with EmulatorThread(settings(members=1, suspended=0, events_per_day=300.0, faults=fast)) as e:
        yield e


@dataclasses.dataclass(frozen=True)
class Pair:
    account: str
    region: str
    truth: list[dict[str, Any]]  # API order, each with "record": the parsed CloudTrailEvent


def _pair(emu: EmulatorThread, account: str, region: str) -> Pair:
    truth = emu.truth(account, region, start=START, end=END)
    return Pair(account, region, [dict(e, record=json.loads(e["CloudTrailEvent"])) for e in truth])


@pytest.fixture(scope="module")
def busy(emu: EmulatorThread) -> Pair:
    """The us-east-1 pair (every service is there) with the most events in the window."""
    pair = max((_pair(emu, a.id, "us-east-1") for a in emu.emulator.world.accounts),
               key=lambda p: len(p.truth))  # fmt: skip
    assert len(pair.truth) > 150
    return pair


def _config(emu: EmulatorThread, attrs: list[tuple[str, str]], where: list[str], page_size: int,
            pair: Pair | None = None, output: Path | None = None, max_items: int | None = None,
            ) -> tuple[Options, SweepSettings]:  # fmt: skip
    opts = Options(
        accounts=[pair.account] if pair else ["org"], regions=[pair.region] if pair else ["all"],
        lookup_attributes=[orjson.dumps({"AttributeKey": k, "AttributeValue": v}).decode()
                           for k, v in attrs] or None, where=where or None, max_items=max_items,
        start_time=format_time(from_epoch(START)), end_time=format_time(from_epoch(END)),
        page_size=page_size, rate=100.0, output=str(output) if output else None,
    )  # fmt: skip
    info = emu.emulator.ready_info()
    return opts, dataclasses.replace(
        build_config(opts, now=datetime.now(UTC)), endpoint_url=info["url"],
        region=info["region"], access_key_id=info["access_key_id"],
        secret_access_key=info["secret_access_key"],
    )  # fmt: skip


def _sweep(cfg: SweepSettings, stop: int | None = None) -> tuple[list[SweepEvent], SweepReport]:
    """An in-process sweep's events (the first `stop`), cursors advanced as if written."""
    report, out = SweepReport(), []

    async def go() -> None:
        async with aclosing(sweep(cfg, report=report)) as events:
            async for event in events:
                out.append(event)
                event.pair.cursor.advance(event)
                if len(out) == stop:
                    break

    anyio.run(go)
    return out, report


# The brute force: written from the documented semantics, independent of filters.py.
def _api_values(event: dict[str, Any], key: str) -> set[str]:
    if key in ("ResourceType", "ResourceName"):
        return {r[key] for r in event.get("Resources") or ()}
    return {event[key]} if event.get(key) is not None else set()


def _at(node: Any, path: list[str], leaf: bool) -> list[Any]:
    """Values at a path: lists fan out (a list at the end only when `leaf`)."""
    if not path:
        return list(node) if leaf and isinstance(node, list) else [node]
    if isinstance(node, dict):
        return _at(node[path[0]], path[1:], leaf) if path[0] in node else []
    if isinstance(node, list) and path[0].isdigit():
        return _at(node[int(path[0])], path[1:], leaf) if int(path[0]) < len(node) else []
    return [v for item in node for v in _at(item, path, leaf)] if isinstance(node, list) else []


def _texts(record: dict[str, Any], path: str) -> list[str]:
    """Every value at the path as text (null as "null", as JSON writes it)."""
    found = _at(record, path.split("."), True)
    return [v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in found]


def _holds(record: dict[str, Any], path: str, op: str, value: str) -> bool:
    if op.endswith("exists"):
        present = any(v is not None for v in _at(record, path.split("."), False))
        return present != (op == "!exists")
    texts = _texts(record, path)
    hit = value in texts if op in ("=", "!=") else any(re.search(value, t) for t in texts)
    return hit != op.startswith("!")


Clause = tuple[str, str, str, str]  # as typed, path, op, value


def _expected(pair: Pair, attrs: list[tuple[str, str]], clauses: list[Clause]) -> list[Any]:
    """The matching truth, newest first, ties by chain (the pushed key's values in the order
    first given), then API order, as pair_stream.py documents."""
    by_key: dict[str, list[str]] = {}
    for k, v in attrs:
        by_key.setdefault(k, []).extend([v] if v not in by_key.get(k, []) else [])
    keep = [e for e in pair.truth
            if all(_api_values(e, k) & set(vs) for k, vs in by_key.items())
            and all(_holds(e["record"], *c[1:]) for c in clauses)]  # fmt: skip
    if not by_key:
        return keep
    key = min(by_key, key=DOC_PUSH_ORDER.index)
    chain = {e["EventId"]: min(by_key[key].index(v) for v in _api_values(e, key) & set(by_key[key]))
             for e in keep}  # fmt: skip
    return sorted(keep, key=lambda e: (-e["EventTime"], chain[e["EventId"]]))


PATHS = ["userIdentity.type", "eventSource", "eventName", "errorCode", "sourceIPAddress",
         "requestParameters.resourceName", "requestParameters.maxResults", "readOnly",
         "responseElements", "resources", "resources.type", "resources.0.ARN", "userAgent",
         "userIdentity.sessionContext.sessionIssuer.userName", "no.such.field"]  # fmt: skip
KEYS = ["ReadOnly", "EventSource", "EventName", "ResourceType", "Username", "ResourceName",
        "AccessKeyId", "EventId"]  # least selective first: simple examples match much  # fmt: skip
NOWHERE = {"Username": "nobody", "EventName": "NoSuchCall", "EventSource": "no.amazonaws.com",
           "ResourceName": "no-such-thing", "ResourceType": "AWS::No::Such", "ReadOnly": "true",
           "AccessKeyId": "AKIANOSUCHKEY0000000", "EventId": "00000000-no-such-event"}  # fmt: skip


def _draw_clause(data: st.DataObject, pair: Pair, anchor: dict[str, Any]) -> Clause:
    path = data.draw(st.sampled_from(PATHS))
    op = data.draw(st.sampled_from(["=", "!=", "~", "!~", "exists", "!exists", "!P"]))
    if op in ("exists", "!exists"):
        return f"{path} {op}", path, op, ""
    if op == "!P":
        return f"!{path} exists", path, "!exists", ""
    seen = [*sorted({t for e in pair.truth for t in _texts(e["record"], path)}), "nope"]
    value = data.draw(st.sampled_from(_texts(anchor["record"], path) or seen)
                      | st.sampled_from(seen))  # fmt: skip
    if op in ("~", "!~"):
        value = data.draw(st.sampled_from([
            "^" + re.escape(value[:4]), re.escape(value[-3:]) + "$", re.escape(value[1:5]),
            "(?i)" + re.escape(value[:6].swapcase()), r"\d{3}", "^$"]))  # fmt: skip
    return f"{path}{op}{value}", path, op, value


# No shrinking: each step is a sweep, and shrinking took minutes (past the suite's timeout).
@hsettings(max_examples=25, deadline=None, derandomize=True, database=None,
           phases=[Phase.explicit, Phase.generate],
           suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(data=st.data())
def test_sweep_equals_brute_force_over_the_truth(
    emu: EmulatorThread, busy: Pair, data: st.DataObject
) -> None:
    """1-3 keys of 1-3 values (of one anchor event and of others, so frequent values come
    often and results are seldom empty; sometimes a value that occurs nowhere), 0-2 --where
    clauses, maybe --max-items: the brute force over the truth, as a multiset, without
    duplicates, newest first, per second, and in the documented order."""
    anchor = data.draw(st.sampled_from(busy.truth))
    attrs: list[tuple[str, str]] = []
    keys = data.draw(st.permutations(KEYS))[: data.draw(st.sampled_from([1, 1, 2, 3]))]
    for key in keys:
        picks = [anchor, *data.draw(st.lists(st.sampled_from(busy.truth), max_size=2))]
        values = [min(_api_values(e, key), default=NOWHERE[key]) for e in picks]
        if data.draw(st.integers(0, 4)) == 0:
            values[data.draw(st.integers(0, len(values) - 1))] = NOWHERE[key]
        attrs += [(key, v) for v in values]
    n_clauses = data.draw(st.sampled_from([1, 0, 2]))
    clauses = [_draw_clause(data, busy, anchor) for _ in range(n_clauses)]
    max_items = data.draw(st.sampled_from([None, None, None, 1, 9, 40]))
    page_size = data.draw(st.sampled_from([9, 23, 50]))
    _, cfg = _config(emu, attrs, [c[0] for c in clauses], page_size, busy, max_items=max_items)
    got, report = _sweep(cfg)
    want = _expected(busy, attrs, clauses)[:max_items]
    assert report.exit_code == 0
    ids, times = [e.event["EventId"] for e in got], [e.event["EventTime"] for e in got]
    assert len(set(ids)) == len(ids)
    assert Counter(ids) == Counter(e["EventId"] for e in want)
    assert times == sorted(times, reverse=True)
    per_second: dict[int, set[str]] = {}
    for e in want:
        per_second.setdefault(e["EventTime"], set()).add(e["EventId"])
    assert per_second == {t: {i for i, s in zip(ids, times, strict=True) if s == t} for t in times}
    assert ids == [e["EventId"] for e in want]  # ties: by chain (value order), then API order
    if len(cfg.query.plan.chains) == 1:
        assert ids == [e["EventId"] for e in busy.truth if e["EventId"] in set(ids)]


@pytest.mark.parametrize("case", ["or_with_ties", "rest_without_resources", "where_only"])
def test_chosen_queries_equal_brute_force(emu: EmulatorThread, busy: Pair, case: str) -> None:
    """Queries the examples above may miss: two chains tied in many seconds; a rest key on
    resources with events that have none; --where alone (one chain, API order); each
    also with --max-items cutting it midway."""
    names = [n for n, _ in Counter(e["EventName"] for e in busy.truth).most_common(3)]
    rtype = Counter(r["ResourceType"] for e in busy.truth for r in e["Resources"]).most_common(1)
    only: list[Clause] = [
        ("readOnly=false", "readOnly", "=", "false"),
        ("userIdentity.type~^(IAM|Ro)", "userIdentity.type", "~", "^(IAM|Ro)"),
    ]
    attrs, clauses = {
        "or_with_ties": ([("ReadOnly", "false"), ("ReadOnly", "true")], []),
        "rest_without_resources": ([("EventName", n) for n in names] + [
            ("ResourceType", rtype[0][0]), ("ResourceType", "AWS::No::Such")], []),
        "where_only": ([], only),
    }[case]  # fmt: skip
    want = _expected(busy, attrs, clauses)
    for limit in (None, 2 * len(want) // 3):  # --max-items cutting midway, too
        _, cfg = _config(emu, attrs, [c[0] for c in clauses], 20, busy, max_items=limit)
        got = [e.event["EventId"] for e in _sweep(cfg)[0]]
        assert got == [e["EventId"] for e in want[:limit]] != []
    w = [(e["EventTime"], e["ReadOnly"]) for e in want]  # the cases are what they claim:
    assert case != "or_with_ties" or any(a[0] == b[0] and a[1] != b[1] for a, b in pairwise(w))
    assert any(not e["Resources"] for e in busy.truth if e["EventName"] in names)


@pytest.mark.parametrize("key", ["EventName", "Username", "ResourceType"])
def test_calls_are_those_the_pushed_query_alone_needs(
    emu: EmulatorThread, busy: Pair, key: str
) -> None:
    """Other keys and --where cost no call: each distinct pushed value costs
    max(1, ceil(n / page)) calls, and a last page that is exactly full needs no extra call
    (the emulator reads one event ahead to decide on a NextToken)."""
    counts = Counter(v for e in busy.truth for v in _api_values(e, key))
    ps, full, more = next((ps, f, m) for ps in range(50, 1, -1) for f in counts for m in counts
                          if counts[f] % ps == 0 and counts[f] >= 2 * ps
                          and counts[m] > 2 * ps and counts[m] % ps)  # fmt: skip
    values = [full, more, NOWHERE[key], more]
    source = next(e["EventSource"] for e in busy.truth if full in _api_values(e, key))
    attrs = [(key, v) for v in values] + [("ReadOnly", "true"), ("ReadOnly", "false"),
             ("EventSource", "x"), ("EventSource", source)]  # fmt: skip
    clauses = [("userIdentity.type!=Root", "userIdentity.type", "!=", "Root"),
               ("eventTime~Z$", "eventTime", "~", "Z$")]  # fmt: skip
    n = {v: len(emu.truth(busy.account, busy.region, start=START, end=END, attribute=(key, v)))
         for v in values}  # fmt: skip
    assert n[full] == counts[full] >= 2 * ps and n[full] % ps == 0 and n[NOWHERE[key]] == 0
    calls = sum(max(1, math.ceil(n[v] / ps)) for v in dict.fromkeys(values))
    emu.call(emu.emulator.quota.reset)
    got, report = _sweep(_config(emu, attrs, [c[0] for c in clauses], ps, busy)[1])
    want = _expected(busy, attrs, clauses)
    assert [e.event["EventId"] for e in got] == [e["EventId"] for e in want] != []
    stats = emu.stats()
    assert report.as_dict()["calls"] == calls == stats["totals"]["calls"]
    assert stats["pairs"][f"{busy.account}/{busy.region}"]["pages"] == calls
    assert stats["totals"]["throttled"] == 0


# ---- resuming an OR export --------------------------------------------------------------

OrExport = tuple[list[tuple[str, str]], list[str], bytes]


@pytest.fixture(scope="module")
def or_export(emu: EmulatorThread, busy: Pair, tmp_path_factory: pytest.TempPathFactory
              ) -> OrExport:  # fmt: skip
    """Every pair, 4 values of EventName AND ReadOnly AND 2 --where clauses; the bytes of its
    uninterrupted --output export (checked against the brute force per pair)."""
    names = [n for n, _ in Counter(e["EventName"] for e in busy.truth).most_common(4)]
    attrs = [("EventName", n) for n in names] + [("ReadOnly", "true")]
    clauses = [("userIdentity.type!=Root", "userIdentity.type", "!=", "Root"),
               ("errorCode !exists", "errorCode", "!exists", "")]  # fmt: skip
    out = tmp_path_factory.mktemp("ref") / "ref.ndjson"
    _, cfg = _config(emu, attrs, [c[0] for c in clauses], 9, output=out)
    anyio.run(lambda: run_export(prepare_export(cfg, spec_of(cfg), None), SweepReport()))
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    for a in emu.emulator.world.accounts:
        for r in ("us-east-1", "eu-west-1"):
            mine = [x["EventId"] for x in rows if (x["account"], x["region"]) == (a.id, r)]
            assert mine == [e["EventId"] for e in _expected(_pair(emu, a.id, r), attrs, clauses)]
    assert len(rows) > 60
    return attrs, [c[0] for c in clauses], out.read_bytes()


def _same_lines(got: bytes, ref: bytes) -> None:
    assert not [x for x, c in Counter(got.splitlines()).items() if c > 1], "duplicated lines"
    assert not set(ref.splitlines()) - set(got.splitlines()), "lost lines"
    assert got == ref


@pytest.mark.parametrize("cut", ["first", "tie_across_chains", "tie_in_chain", "half"])
def test_or_export_resumes_exactly_from_a_checkpoint_at_any_event(
    emu: EmulatorThread, or_export: OrExport, tmp_path: Path, cut: str
) -> None:
    """A checkpoint after event k, as the export saves one, and a torn line after it (a
    crash): the resume writes exactly the rest, also when k splits a second whose events
    come from different chains."""
    attrs, where, ref = or_export
    rows = [orjson.loads(line) for line in ref.splitlines()]
    same = [i for i in range(1, len(rows)) if all(
        rows[i][f] == rows[i - 1][f] for f in ("account", "region", "EventTime"))]  # fmt: skip
    across = [i for i in same if rows[i]["EventName"] != rows[i - 1]["EventName"]]
    within = [i for i in same if rows[i]["EventName"] == rows[i - 1]["EventName"]]
    k = {"first": [1], "tie_across_chains": across, "tie_in_chain": within or [len(rows) // 3],
         "half": [len(rows) // 2]}[cut][0]  # fmt: skip
    out = tmp_path / "out.ndjson"
    _, cfg = _config(emu, attrs, where, 9, output=out)
    done, report = _sweep(cfg, stop=k)
    head = b"".join(e.line() for e in done)
    assert len(done) == k and ref.startswith(head)
    out.write_bytes(head + b'{"account":"torn')
    ckpt_mod.save(ckpt_mod.default_path(out), ckpt_mod.Checkpoint(
        spec=spec_of(cfg), query=cfg.query.describe(), pairs=report.pairs,
        offset=len(head), written=k, output_sha256=hashlib.sha256(head).hexdigest()))  # fmt: skip
    export = prepare_export(cfg, spec_of(cfg), None)
    assert export.resume is not None
    anyio.run(lambda: run_export(export, SweepReport()))
    _same_lines(out.read_bytes(), ref)
    assert ckpt_mod.load(ckpt_mod.default_path(out)).finished


def test_or_export_killed_midway_resumes_to_the_same_bytes(
    emu: EmulatorThread, or_export: OrExport, tmp_path: Path
) -> None:
    """`trailsweep sweep --output` with repeated --lookup-attributes and --where, SIGKILLed
    a third of the way, then `--resume`: the bytes of the uninterrupted export."""
    attrs, where, ref = or_export
    out, env, total = tmp_path / "out.ndjson", aws_env(emu), ref.count(b"\n")
    ckpt = ckpt_mod.default_path(out)
    args = ["sweep", "--accounts", "org", "--regions", "all", "--page-size", "9",
            "--start-time", format_time(from_epoch(START)), "--rate", "15",
            "--end-time", format_time(from_epoch(END)), "--output", str(out),
            "--checkpoint-interval", "0.05"]  # fmt: skip
    for k, v in attrs:
        args += ["--lookup-attributes", f"AttributeKey={k},AttributeValue={v}"]
    for w in where:
        args += ["--where", w]
    proc = subprocess.Popen([sys.executable, "-m", "trailsweep", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while proc.poll() is None:
            if ckpt.exists() and ckpt_mod.load(ckpt).written >= total // 3:
                break
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.01)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    stopped = ckpt_mod.load(ckpt)
    assert not stopped.finished and total // 3 <= stopped.written < total
    result = run_cli(["sweep", "--resume", str(out), "--rate", "100"], env=env)
    assert result.returncode == 0, result.stderr.decode()
    _same_lines(out.read_bytes(), ref)
