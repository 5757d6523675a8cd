"""The real AWS CLI against the emulator (`make compat`; it needs the AWS CLI, which `make
compat` installs in .compat-venv, kept apart from ours). Not part of `make test`: CI has no
AWS CLI of its own, and a skipped test there would prove nothing.

`trailsweep lookup-events` must print what `aws cloudtrail lookup-events` prints for the same
invocation against the same emulator: compared as parsed JSON (same keys, values, order).
NextTokens cannot be equal byte for byte (the API's tokens carry the time they were issued),
so they are compared by what they decode to, and each tool must continue from the other's.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from trailsweep.emulator import EmulatorThread

from support import NOW_EPOCH, aws_env, settings

AWS = os.environ.get("TRAILSWEEP_AWS_CLI") or shutil.which("aws")
pytestmark = pytest.mark.skipif(
    AWS is None, reason="no AWS CLI: run `make compat`, which installs one in .compat-venv"
)
HOUR = 3600


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    # 2000 events a day: every hour-wide window the tests pick holds events at any hour.
    busy = settings(events_per_day=2000.0, faults={"rate": 100.0, "burst": 100.0})
    with EmulatorThread(busy) as e:
        yield e


def _run(cmd: list[str], emu: EmulatorThread) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        cmd, env=aws_env(emu), capture_output=True, check=False, stdin=subprocess.DEVNULL
    )


def aws_raw(emu: EmulatorThread, *args: str) -> subprocess.CompletedProcess[bytes]:
    assert AWS is not None
    return _run([AWS, "cloudtrail", "lookup-events", *args], emu)


def ts_raw(emu: EmulatorThread, *args: str) -> subprocess.CompletedProcess[bytes]:
    return _run([sys.executable, "-m", "trailsweep", "lookup-events", *args], emu)


def _doc(result: subprocess.CompletedProcess[bytes], who: str) -> dict[str, Any]:
    assert result.returncode == 0, f"{who}: {result.stderr.decode()}"
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def both(emu: EmulatorThread, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return _doc(aws_raw(emu, *args), "aws"), _doc(ts_raw(emu, *args), "trailsweep")


def _token(doc: dict[str, Any]) -> dict[str, Any] | None:
    token = doc.get("NextToken")
    if token is None:
        return None
    decoded: dict[str, Any] = json.loads(base64.b64decode(token))
    return {k: (v is not None if k == "NextToken" else v) for k, v in decoded.items()}


def assert_same(aws_doc: dict[str, Any], ts_doc: dict[str, Any]) -> None:
    """Same document; NextTokens equal in shape (keys, truncation, API token present)."""
    assert _token(ts_doc) == _token(aws_doc)
    a = {k: v for k, v in aws_doc.items() if k != "NextToken"}
    t = {k: v for k, v in ts_doc.items() if k != "NextToken"}
    assert t == a
    assert list(t) == list(a)
    for ea, et in zip(a["Events"], t["Events"], strict=True):
        assert list(et) == list(ea)  # keys in the same order


def _window(hours_back: int, hours: int) -> list[str]:
    end = NOW_EPOCH - hours_back * HOUR
    return ["--start-time", str(end - hours * HOUR), "--end-time", str(end)]


def _values(emu: EmulatorThread) -> dict[str, str]:
    """One value seen in the truth for every attribute key."""
    account = emu.emulator.world.management.id
    events = emu.truth(account, "us-east-1", start=NOW_EPOCH - 6 * HOUR, end=NOW_EPOCH)
    found: dict[str, str] = {}
    for e in events:
        for key in ("EventId", "EventName", "ReadOnly", "Username", "EventSource", "AccessKeyId"):
            if e.get(key):
                found.setdefault(key, e[key])
        for r in e.get("Resources") or ():
            found.setdefault("ResourceType", r["ResourceType"])
            found.setdefault("ResourceName", r["ResourceName"])
    return found


INVOCATIONS = {
    "max items": ["--max-items", "7"],
    "max items on a page boundary": ["--max-items", "4", "--page-size", "2"],
    "max items inside a page": ["--max-items", "5", "--page-size", "3"],
    "time range": _window(1, 3),
    "time range epoch and ISO": ["--start-time", str(NOW_EPOCH - 7200), "--end-time",
                                 "1970-01-01T00:00:00Z"],
    "page size": [*_window(2, 2), "--page-size", "7"],
    "everything in a window": _window(30, 6),
}  # fmt: skip


@pytest.mark.parametrize("name", list(INVOCATIONS))
def test_same_document(emu: EmulatorThread, name: str) -> None:
    args = INVOCATIONS[name]
    if name == "time range epoch and ISO":  # an ISO end the CLI and we both parse
        args = [*args[:3], "2099-01-01T00:00:00Z"]
    aws_doc, ts_doc = both(emu, *args)
    assert_same(aws_doc, ts_doc)
    assert aws_doc["Events"]


@pytest.mark.parametrize(
    "key",
    ["EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName",
     "EventSource", "AccessKeyId"],
)  # fmt: skip
def test_each_attribute(emu: EmulatorThread, key: str) -> None:
    value = _values(emu)[key]
    shorthand = f"AttributeKey={key},AttributeValue={value}"
    args = ["--lookup-attributes", shorthand, "--max-items", "12", *_window(0, 6)]
    aws_doc, ts_doc = both(emu, *args)
    assert_same(aws_doc, ts_doc)
    assert aws_doc["Events"]
    as_json = json.dumps([{"AttributeKey": key, "AttributeValue": value}])
    assert_same(aws_doc, _doc(ts_raw(emu, "--lookup-attributes", as_json, *args[2:]), "ts"))


def test_starting_token_both_ways(emu: EmulatorThread) -> None:
    """Each tool continues from the other's NextToken, at a page boundary and inside one."""
    boundary = ["--max-items", "4", "--page-size", "2"]
    inside = ["--max-items", "5", "--page-size", "3"]
    for first in (boundary, inside):
        aws_first, ts_first = both(emu, *first)
        rest = ["--max-items", "6", "--page-size", first[3]]
        aws_next = _doc(aws_raw(emu, *rest, "--starting-token", ts_first["NextToken"]), "aws")
        ts_next = _doc(ts_raw(emu, *rest, "--starting-token", aws_first["NextToken"]), "ts")
        assert_same(aws_next, ts_next)
        ids = [e["EventId"] for e in aws_first["Events"] + aws_next["Events"]]
        everything = _doc(aws_raw(emu, "--max-items", str(len(ids))), "aws")
        assert ids == [e["EventId"] for e in everything["Events"]]


def test_cli_input_json(emu: EmulatorThread, tmp_path: Path) -> None:
    account = emu.emulator.world.management.id
    inside = emu.truth(account, "us-east-1", start=NOW_EPOCH - 5 * HOUR, end=NOW_EPOCH - HOUR)
    value = inside[0]["EventSource"]  # a source the window holds, whatever the hour
    doc = {
        "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": value}],
        "StartTime": NOW_EPOCH - 5 * HOUR,
        "EndTime": NOW_EPOCH - HOUR,
        "MaxResults": 9,
    }
    path = tmp_path / "in.json"
    path.write_text(json.dumps(doc))
    for source in (f"file://{path}", json.dumps(doc)):
        aws_doc, ts_doc = both(emu, "--cli-input-json", source, "--max-items", "20")
        assert_same(aws_doc, ts_doc)
        assert aws_doc["Events"]
    # Flags override the file.
    aws_doc, ts_doc = both(emu, "--cli-input-json", f"file://{path}", "--max-items", "3",
                           "--end-time", str(NOW_EPOCH - 2 * HOUR))  # fmt: skip
    assert_same(aws_doc, ts_doc)


def test_single_call(emu: EmulatorThread) -> None:
    """--no-paginate / --max-results / --next-token: one call, the raw API NextToken."""
    aws_doc, ts_doc = both(emu, "--max-results", "3")
    assert [e["EventId"] for e in ts_doc["Events"]] == [e["EventId"] for e in aws_doc["Events"]]
    aws_two, ts_two = both(emu, "--max-results", "3", "--next-token", aws_doc["NextToken"])
    ts_cross = _doc(ts_raw(emu, "--max-results", "3", "--next-token", aws_doc["NextToken"]), "ts")
    assert ts_cross["Events"] == aws_two["Events"] == ts_two["Events"]
    aws_np, ts_np = both(emu, "--no-paginate")
    assert ts_np["Events"] == aws_np["Events"]
    assert len(ts_np["Events"]) == 50


@pytest.mark.parametrize("kind", ["input", "output"])
def test_skeleton(emu: EmulatorThread, kind: str) -> None:
    aws_doc, ts_doc = both(emu, "--generate-cli-skeleton", kind)
    if kind == "input":  # the CLI picks any AttributeKey of the enum, run to run
        for doc in (aws_doc, ts_doc):
            doc["LookupAttributes"][0]["AttributeKey"] = "?"
    assert ts_doc == aws_doc


ERRORS = {
    "unknown key": (["--lookup-attributes", "AttributeKey=Foo,AttributeValue=x"],
                    "InvalidLookupAttributesException"),
    "ReadOnly value": (["--lookup-attributes", "AttributeKey=ReadOnly,AttributeValue=yes"],
                       "InvalidLookupAttributesException"),
    "start after end": (["--start-time", "2026-01-02", "--end-time", "2026-01-01"],
                        "InvalidTimeRangeException"),
    "event category": (["--event-category", "management"], "InvalidEventCategoryException"),
    "page size 51": (["--page-size", "51"], "InvalidMaxResultsException"),
    "page size 0": (["--page-size", "0"], "MaxResults"),
    "bad starting token": (["--starting-token", "garbage"], "InvalidNextTokenException"),
    "bad next token": (["--next-token", "garbage"], "InvalidNextTokenException"),
    "no-paginate with max-items": (["--next-token", "x", "--max-items", "2"], "--no-paginate"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(ERRORS))
def test_same_errors(emu: EmulatorThread, name: str) -> None:
    """Both refuse, naming the same API error code (we exit 2, the CLI 255); no output."""
    args, needle = ERRORS[name]
    aws_result, ts_result = aws_raw(emu, *args), ts_raw(emu, *args)
    assert aws_result.returncode != 0
    assert needle in aws_result.stderr.decode()
    assert ts_result.returncode == 2, ts_result.stderr.decode()
    assert needle in ts_result.stderr.decode()
    assert ts_result.stdout == b""
    assert len(ts_result.stderr.decode().strip().splitlines()) == 1


def test_sts_and_organizations(emu: EmulatorThread) -> None:
    """get-caller-identity and list-accounts work too."""
    assert AWS is not None
    ident = json.loads(_run([AWS, "sts", "get-caller-identity"], emu).stdout)
    assert ident["Account"] == emu.emulator.world.management.id
    accounts = json.loads(_run([AWS, "organizations", "list-accounts"], emu).stdout)["Accounts"]
    assert len(accounts) == len(emu.emulator.world.accounts)


# --output, --query, cli_timestamp_format: byte for byte ------------------------------------
def _bytes(result: subprocess.CompletedProcess[bytes], who: str) -> bytes:
    assert result.returncode == 0, f"{who}: {result.stderr.decode()}"
    return result.stdout


def _with_env(
    emu: EmulatorThread, cmd: list[str], **env: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        cmd, env=aws_env(emu, **env), capture_output=True, check=False, stdin=subprocess.DEVNULL
    )


def same_bytes(emu: EmulatorThread, *args: str, **env: str) -> bytes:
    assert AWS is not None
    aws = _bytes(_with_env(emu, [AWS, "cloudtrail", "lookup-events", *args], **env), "aws")
    ts = _bytes(
        _with_env(emu, [sys.executable, "-m", "trailsweep", "lookup-events", *args], **env),
        "trailsweep",
    )
    assert ts == aws
    return aws


# No NextToken in these outputs: API tokens carry the time they were issued, so two runs
# never print the same one (the token cases are compared by what they decode to, below).
FORMATTED = {
    "text, a window": ["--output", "text", *_window(0, 12)],
    "table, a window": ["--output", "table", *_window(0, 6)],
    "text, pages and a query": ["--output", "text", *_window(0, 12), "--page-size", "7",
                                "--query", "Events[].[EventName, EventTime]"],
    "text, a query per page": ["--output", "text", *_window(0, 12), "--page-size", "5",
                               "--query", "Events[0].Resources"],
    "table, a query": ["--output", "table", "--max-items", "9",
                       "--query", "Events[].{Name: EventName, When: EventTime, R: Resources}"],
    "table, rows": ["--output", "table", "--max-items", "12",
                    "--query", "Events[].[EventName, Username, EventTime]"],
    "table, one value": ["--output", "table", "--max-items", "2", "--query", "Events[0].EventId"],
    "table, nothing": ["--output", "table", "--max-items", "2", "--query", "Events[?false]"],
    "table, no event": ["--output", "table", "--lookup-attributes",
                        "AttributeKey=EventId,AttributeValue=nothing-has-this"],
    "text, no event": ["--output", "text", "--query", "length(Events)", "--lookup-attributes",
                       "AttributeKey=EventId,AttributeValue=nothing-has-this"],
    "json, a query": ["--max-items", "20", "--query",
                      "Events[?ReadOnly=='false'].{id: EventId, r: Resources[0].ResourceName}"],
    "json, a scalar": ["--max-items", "20", "--query", "length(Events)"],
    "json, null": ["--max-items", "2", "--query", "Nothing"],
    "json, a single call": ["--max-results", "4", "--query", "Events[].EventId"],
    "text, a single call": ["--max-results", "4", "--output", "text", "--query", "Events"],
}  # fmt: skip


@pytest.mark.parametrize("name", list(FORMATTED))
def test_same_bytes(emu: EmulatorThread, name: str) -> None:
    out = same_bytes(emu, *FORMATTED[name])
    assert out or name == "table, nothing"  # an empty result draws no table


def test_text_token_line(emu: EmulatorThread) -> None:
    """--max-items with text: the same lines, then NEXTTOKEN and a token that decodes alike;
    a query goes through the token line too."""
    assert AWS is not None
    args = ["--output", "text", "--max-items", "5", "--page-size", "3"]
    aws = _bytes(aws_raw(emu, *args), "aws").decode().splitlines()
    ts = _bytes(ts_raw(emu, *args), "trailsweep").decode().splitlines()
    assert ts[:-1] == aws[:-1]
    (a_key, a_token), (t_key, t_token) = aws[-1].split("\t"), ts[-1].split("\t")
    assert a_key == t_key == "NEXTTOKEN"
    assert _token({"NextToken": t_token}) == _token({"NextToken": a_token})
    assert same_bytes(emu, *args, "--query", "Events[].EventId")


@pytest.mark.parametrize("fmt", ["json", "text", "table"])
def test_iso8601_from_the_config_file(emu: EmulatorThread, tmp_path: Path, fmt: str) -> None:
    config = tmp_path / "config"
    config.write_text(f"[default]\ncli_timestamp_format = iso8601\noutput = {fmt}\n")
    out = same_bytes(emu, *_window(0, 12), "--query", "Events[].[EventTime, EventId]",
                     AWS_CONFIG_FILE=str(config))  # fmt: skip
    assert b"+00:00" in out


def test_output_from_the_environment(emu: EmulatorThread) -> None:
    assert same_bytes(emu, *_window(0, 12), AWS_DEFAULT_OUTPUT="text").count(b"\nEVENTS\t") > 3


@pytest.mark.parametrize(
    "args", [["--query", "Events["], ["--output", "xml"], ["--query", "Events[?"]]
)
def test_both_refuse_bad_formats(emu: EmulatorThread, args: list[str]) -> None:
    aws_result, ts_result = aws_raw(emu, *args), ts_raw(emu, *args)
    assert aws_result.returncode != 0
    assert aws_result.stdout == b""
    assert ts_result.returncode == 2
    assert ts_result.stdout == b""
    assert len(ts_result.stderr.decode().strip().splitlines()) == 1


_AWSCLI_FORMATTERS = r"""
import io, json, sys
from awscli import text
from awscli.formatter import TableFormatter
class Args:
    query = None
    color = "off"
def text_of(value):
    s = io.StringIO()
    text.format_text(value, s)
    return s.getvalue()
def table_of(value):
    t = io.StringIO()
    f = TableFormatter(Args())
    f.table._terminal_width = 80
    f._format_response("LookupEvents", value, t)
    return t.getvalue()
def attempt(fn, value):
    try:
        return fn(value)
    except Exception:
        return None  # the CLI fails on this value
out = []
for line in sys.stdin:
    value = json.loads(line)
    out.append([attempt(text_of, value), attempt(table_of, value)])
json.dump(out, sys.stdout)
"""


def _values_to_draw(seed: int, n: int) -> list[Any]:
    import random

    rng = random.Random(seed)

    def value(depth: int) -> Any:
        r = rng.random()
        if depth > 3 or r < 0.4:
            return rng.choice(
                ["a", "héllo", "漢字x", 1, 2.5, True, None, "", 0, "x" * rng.randint(0, 120)]
            )
        if r < 0.7:
            return {rng.choice("ABCDEFG"): value(depth + 1) for _ in range(rng.randint(0, 4))}
        return [value(depth + 1) for _ in range(rng.randint(0, 4))]

    return [value(0) for _ in range(n)]


def test_formatters_agree_with_awscli_on_any_value() -> None:
    """Our text and table renderers against awscli's own (from the AWS CLI's Python) on
    1500 random JSON values: nested dicts and lists, wide and East Asian characters."""
    from trailsweep.output.tableformat import format_table
    from trailsweep.output.textformat import format_text

    assert AWS is not None
    python = Path(AWS).resolve().parent / "python"
    if not python.exists():  # a system-wide aws: its script names its interpreter
        python = Path(Path(AWS).read_text().splitlines()[0].removeprefix("#!").strip())
    values = _values_to_draw(13, 1500)
    feed = "".join(json.dumps(v) + "\n" for v in values)
    result = subprocess.run(
        [str(python), "-c", _AWSCLI_FORMATTERS], input=feed.encode(), capture_output=True,
        check=True,
    )  # fmt: skip
    want = json.loads(result.stdout)
    assert sum(t is not None for _, t in want) > 500
    for value, (text, table) in zip(values, want, strict=True):
        assert _attempt(format_text, value) == text, value
        assert _attempt(lambda v: format_table("LookupEvents", v, 80), value) == table, value


def _attempt(draw: Callable[[Any], str], value: Any) -> str | None:
    """The drawing, or None where the CLI fails too (ragged rows, mixed lists...)."""
    try:
        text: str = draw(value)
    except (ValueError, IndexError, TypeError, AttributeError):
        return None
    return text


# YAML (AWS CLI v2 only): v1's data, dumped the way v2 documents and dumps it ------------
def _v2_yaml(value: Any) -> str:
    """AWS CLI v2's YAMLDumper: ruamel.yaml safe, block style; a bare scalar as JSON."""
    import io

    from ruamel.yaml import YAML

    if value is None or isinstance(value, int | float | str):
        return json.dumps(value, ensure_ascii=False) + "\n"
    yaml = YAML(typ="safe")
    # v2 installs ruamel.yaml.clib, so its safe dumper writes with the C emitter
    assert yaml.Emitter.__name__ == "CEmitter", "ruamel.yaml.clib is not installed"
    yaml.representer.default_flow_style = False
    out = io.StringIO()
    yaml.dump(value, out)
    return out.getvalue()


def test_yaml_is_v1s_result_in_v2s_shape(emu: EmulatorThread, tmp_path: Path) -> None:
    """v2 prints ISO 8601 times by default; with that set, v1's JSON result dumped as v2
    dumps it is what `--output yaml` prints."""
    config = tmp_path / "config"
    config.write_text("[default]\ncli_timestamp_format = iso8601\n")
    args = _window(0, 6)
    aws = json.loads(_bytes(_with_env(emu, [str(AWS), "cloudtrail", "lookup-events", *args],
                                      AWS_CONFIG_FILE=str(config)), "aws"))  # fmt: skip
    assert aws["Events"]
    ts = _with_env(emu, [sys.executable, "-m", "trailsweep", "lookup-events", *args,
                         "--output", "yaml"], AWS_CONFIG_FILE=str(config))  # fmt: skip
    assert _bytes(ts, "trailsweep").decode() == _v2_yaml(aws)


def test_yaml_stream_is_one_item_per_page(emu: EmulatorThread) -> None:
    """yaml-stream: each page (here 4 events) as a list of one item, the query per page."""
    args = [*_window(0, 6), "--page-size", "4"]
    ids = [e["EventId"] for e in json.loads(_bytes(aws_raw(emu, *args), "aws"))["Events"]]
    assert len(ids) > 8
    want = "".join(_v2_yaml([ids[i : i + 4]]) for i in range(0, len(ids), 4))
    got = _bytes(ts_raw(emu, *args, "--output", "yaml-stream", "--query", "Events[].EventId"),
                 "trailsweep")  # fmt: skip
    assert got.decode() == want


# YAML input (AWS CLI v2 only): what v1 asks with the same parameters as JSON ------------
def test_cli_input_yaml_asks_what_the_cli_asks_with_json(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """`--cli-input-yaml` (file:// and inline, a YAML timestamp, a comment) prints what the
    real CLI prints for the same parameters as `--cli-input-json`; flags still win."""
    account = emu.emulator.world.management.id
    start, end = NOW_EPOCH - 5 * HOUR, NOW_EPOCH - HOUR
    value = emu.truth(account, "us-east-1", start=start, end=end)[0]["EventSource"]
    doc = {
        "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": value}],
        "StartTime": start, "EndTime": end, "MaxResults": 9,
    }  # fmt: skip
    as_yaml = (
        "LookupAttributes:  # as --generate-cli-skeleton yaml-input writes it\n"
        f"- AttributeKey: EventSource\n  AttributeValue: {value}\n"
        f"StartTime: {datetime.fromtimestamp(start, UTC):%Y-%m-%d %H:%M:%S}\n"
        f"EndTime: {end}\nMaxResults: 9\n"
    )
    path = tmp_path / "in.yaml"
    path.write_text(as_yaml)
    aws_doc = _doc(aws_raw(emu, "--cli-input-json", json.dumps(doc), "--max-items", "20"), "aws")
    assert aws_doc["Events"]
    for source in (f"file://{path}", as_yaml):
        assert_same(aws_doc, _doc(ts_raw(emu, "--cli-input-yaml", source, "--max-items", "20"),
                                  "trailsweep"))  # fmt: skip
    later = ["--max-items", "3", "--end-time", str(NOW_EPOCH - 2 * HOUR)]
    assert_same(
        _doc(aws_raw(emu, "--cli-input-json", json.dumps(doc), *later), "aws"),
        _doc(ts_raw(emu, "--cli-input-yaml", f"file://{path}", *later), "trailsweep"),
    )


def test_yaml_input_skeleton_holds_the_cli_input_skeleton(emu: EmulatorThread) -> None:
    """`--generate-cli-skeleton yaml-input` (v2's) loads to v1's `input` skeleton: the same
    keys in the same order and the same placeholders (v2 writes the time as a YAML
    timestamp), and fed back as --cli-input-yaml it is refused as the CLI refuses v1's."""
    from ruamel.yaml import YAML

    aws_doc = _doc(aws_raw(emu, "--generate-cli-skeleton", "input"), "aws")
    text = _bytes(ts_raw(emu, "--generate-cli-skeleton", "yaml-input"), "trailsweep").decode()
    loaded = YAML(typ="safe").load(text)
    assert list(loaded) == list(aws_doc)
    for doc in (aws_doc, loaded):  # the CLI picks any AttributeKey of the enum, run to run
        doc["LookupAttributes"][0]["AttributeKey"] = "?"
    loaded["StartTime"] = loaded["StartTime"].isoformat()
    loaded["EndTime"] = loaded["EndTime"].isoformat()
    assert loaded == aws_doc
    # An unedited skeleton asks with an empty AttributeValue: both refuse it before a call.
    refused = aws_raw(emu, "--cli-input-json", json.dumps(aws_doc | {"LookupAttributes": [
        {"AttributeKey": "EventName", "AttributeValue": ""}]}))  # fmt: skip
    ours = ts_raw(emu, "--cli-input-yaml", text)
    assert refused.returncode != 0
    assert ours.returncode == 2, ours.stderr.decode()
    assert ours.stdout == b""
    assert len(ours.stderr.decode().strip().splitlines()) == 1
