"""`trailsweep lookup-events` output options against the emulator: --output text, table,
yaml, yaml-stream, --query, cli_timestamp_format, --cli-input-yaml and the yaml-input
skeleton. Byte-for-byte comparisons with the real AWS CLI v1 live in compat/."""

from __future__ import annotations

import base64
import io
import json
import re
import xml.dom.minidom
import xml.parsers.expat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from ruamel.yaml import YAML

from trailsweep.cli.app import main
from trailsweep.cli.options import INPUT_SKELETON
from trailsweep.emulator import EmulatorThread
from trailsweep.output.tableformat import format_table
from trailsweep.output.textformat import format_text
from trailsweep.output.yamlformat import dump_yaml
from trailsweep.settings.yaml_input import YAML_INPUT_SKELETON

from support import NOW_EPOCH, UseEmu

HOUR = 3600
WINDOW = ["--start-time", str(NOW_EPOCH - 8 * HOUR), "--end-time", str(NOW_EPOCH)]


def run(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> tuple[int, bytes, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["lookup-events", *args])
    out, err = capsysbinary.readouterr()
    code = exit_info.value.code
    return int(code) if isinstance(code, int) else 1, out, err.decode()


def ok(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> str:
    code, out, err = run(capsysbinary, *args)
    assert code == 0, err
    return out.decode()


@pytest.fixture
def emu(fast_emu: EmulatorThread, use_emu: UseEmu) -> EmulatorThread:
    use_emu(fast_emu)
    return fast_emu


def truth(emu: EmulatorThread) -> list[dict[str, Any]]:
    account = emu.emulator.world.management.id
    return emu.truth(account, "us-east-1", start=NOW_EPOCH - 8 * HOUR, end=NOW_EPOCH)


def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))


def safe_yaml(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


# --query ---------------------------------------------------------------------------------
def test_query_runs_on_the_merged_result(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """After pagination, on the whole result (NextToken included), printed as json."""
    want = [e["EventName"] for e in truth(emu)[:7]]
    out = ok(capsysbinary, *WINDOW, "--max-items", "7", "--page-size", "3",
             "--query", "Events[].EventName")  # fmt: skip
    assert out == json.dumps(want, indent=4) + "\n"
    token = ok(capsysbinary, *WINDOW, "--max-items", "7", "--page-size", "3",
               "--query", "NextToken")  # fmt: skip
    assert json.loads(token)  # the CLI's resume token is part of the result
    assert ok(capsysbinary, *WINDOW, "--max-items", "7", "--query", "length(Events)") == "7\n"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--query", "Events["], "--query"),
        (["--query", "Events[?EventName=='x'"], "--query"),
        (["--output", "xml"], "--output"),
        (["--output", "yaml-input"], "--output"),
    ],
)
def test_bad_query_or_output_makes_no_call(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes], args: list[str], needle: str
) -> None:
    before = emu.emulator.requests
    code, out, err = run(capsysbinary, *WINDOW, *args)
    assert (code, out) == (2, b"")
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert emu.emulator.requests == before


def test_query_that_fails_on_the_data_prints_nothing(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """A JMESPath type error only shows on the data: exit 2, one line, no output."""
    code, out, err = run(capsysbinary, *WINDOW, "--max-items", "2",
                         "--query", "sum(Events[].EventName)")  # fmt: skip
    assert (code, out) == (2, b"")
    assert err.startswith("trailsweep: error: --query:")
    assert len(err.strip().splitlines()) == 1


# --output text ---------------------------------------------------------------------------
def test_text_goes_page_by_page_and_ends_with_the_token(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """As the CLI: --query applies to each page (one line per page here), then the
    NEXTTOKEN line, through the query too (a query that drops it prints None)."""
    names = [e["EventName"] for e in truth(emu)[:5]]
    ids = [e["EventId"] for e in truth(emu)[:5]]
    args = [*WINDOW, "--max-items", "5", "--page-size", "2", "--output", "text"]
    out = ok(capsysbinary, *args, "--query", "Events[].EventName")
    assert out == f"{names[0]}\t{names[1]}\n{names[2]}\t{names[3]}\n{names[4]}\nNone\n"
    lines = ok(capsysbinary, *args).splitlines()
    rows = [line.split("\t") for line in lines if line.startswith("EVENTS\t")]
    assert [next(f for f in row if f in ids) for row in rows] == ids
    assert lines[-1].startswith("NEXTTOKEN\t")
    token = json.loads(base64.b64decode(lines[-1].split("\t")[1]))
    assert token["boto_truncate_amount"] == 1  # the CLI's token: 1 of the third page printed


def test_text_of_a_single_call_prints_its_raw_token_first(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """--max-results: one response, its scalar NextToken first, then the events."""
    lines = ok(capsysbinary, *WINDOW, "--max-results", "3", "--output", "text").splitlines()
    assert not lines[0].startswith("EVENTS") and "\t" not in lines[0]
    more = ok(capsysbinary, *WINDOW, "--max-results", "3", "--next-token", lines[0])
    assert [e["EventId"] for e in json.loads(more)["Events"]] == [
        e["EventId"] for e in truth(emu)[3:6]
    ]  # the raw API token, which --next-token takes
    assert sum(line.startswith("EVENTS\t") for line in lines) == 3


def test_text_format_rules() -> None:
    """The CLI's text rules on fixed values."""
    doc = {
        "Events": [
            {"EventId": "a", "EventTime": 5, "Resources": [
                {"ResourceType": "T", "ResourceName": "n"}]},
            {"EventId": "b", "Username": "u", "Resources": []},
        ],
        "NextToken": "tok",
    }  # fmt: skip
    assert format_text(doc) == "tok\nEVENTS\ta\t5\t\nRESOURCES\tn\tT\nEVENTS\tb\t\tu\n"
    assert format_text(["x", 1, True, None]) == "x\t1\tTrue\tNone\n"
    assert format_text({"K": ["x", "y"]}) == "K\tx\nK\ty\n"
    assert format_text([]) == ""
    assert format_text("s") == "s\n"


# --output table --------------------------------------------------------------------------
# What `aws cloudtrail lookup-events --output table` (v1, piped) printed for these queries.
TABLE_ROWS = """\
-----------------------------------
|          LookupEvents           |
+------------------+--------------+
|  DescribeVolumes |  1796168756  |
|  GetRole         |  1796168756  |
+------------------+--------------+
"""
TABLE_NESTED = """\
----------------------------------------------------------------------------
|                               LookupEvents                               |
+------------------------------------------+-------------------------------+
|                     N                    |               T               |
+------------------------------------------+-------------------------------+
|  DescribeVolumes                         |  1796168756                   |
+------------------------------------------+-------------------------------+
|                               LookupEvents                               |
+-------------------------------+------------------------------------------+
|               N               |                    T                     |
+-------------------------------+------------------------------------------+
|  GetRole                      |  1796168756                              |
+-------------------------------+------------------------------------------+
||                                    R                                   ||
|+-----------------------------------------------------+------------------+|
||                    ResourceName                     |  ResourceType    ||
|+-----------------------------------------------------+------------------+|
||  arn:aws:iam::592536072300:role/GitHubActionsDeploy |  AWS::IAM::Role  ||
|+-----------------------------------------------------+------------------+|
"""


def test_table_matches_the_cli_drawings() -> None:
    rows = [["DescribeVolumes", 1796168756], ["GetRole", 1796168756]]
    assert format_table("LookupEvents", rows, 80) == TABLE_ROWS
    nested = [
        {"N": "DescribeVolumes", "T": 1796168756, "R": []},
        {"N": "GetRole", "T": 1796168756, "R": [
            {"ResourceName": "arn:aws:iam::592536072300:role/GitHubActionsDeploy",
             "ResourceType": "AWS::IAM::Role"}]},
    ]  # fmt: skip
    assert format_table("LookupEvents", nested, 80) == TABLE_NESTED
    assert format_table("LookupEvents", [], 80) == ""  # the CLI prints nothing


def test_table_wider_than_the_terminal_turns_vertical(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Events (with their long CloudTrailEvent) do not fit 80 columns: each single-row
    section becomes key/value rows, as the CLI draws it when piped."""
    out = ok(capsysbinary, *WINDOW, "--max-items", "2", "--output", "table")
    lines = out.splitlines()
    assert lines[1].strip("| ") == "LookupEvents"
    keys = [m.group(1) for line in lines if (m := re.match(r"\|\|  (\w+)\s*\|", line))]
    assert keys[:8] == ["AccessKeyId", "CloudTrailEvent", "EventId", "EventName",
                        "EventSource", "EventTime", "ReadOnly", "Username"]  # fmt: skip
    assert len({len(line) for line in lines}) == 1  # one width for every line


# --output yaml / yaml-stream -------------------------------------------------------------
def test_yaml_is_the_whole_result_with_sorted_keys(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    want = truth(emu)[:3]
    out = ok(capsysbinary, *WINDOW, "--max-items", "3", "--output", "yaml")
    doc = safe_yaml(out)
    assert doc["Events"] == want
    assert set(doc) == {"Events", "NextToken"}
    assert out.startswith("Events:\n- ")  # block style
    first = out.split("\n- ")[1]
    keys = [
        line.split(":")[0].strip()
        for line in first.splitlines()
        if re.match(r"^(  )?[A-Z]\w*:", line)
    ]
    assert keys == sorted(want[0])  # keys sorted
    one = ok(capsysbinary, *WINDOW, "--max-items", "3", "--output", "yaml",
             "--query", "Events[0].EventName")  # fmt: skip
    assert one == json.dumps(want[0]["EventName"]) + "\n"  # a bare scalar: JSON, one line


def test_yaml_stream_is_one_list_item_per_page(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Each page as served (with its raw API NextToken), the last one cut by --max-items;
    the pages concatenate into one YAML list."""
    want = truth(emu)[:5]
    out = ok(capsysbinary, *WINDOW, "--max-items", "5", "--page-size", "2",
             "--output", "yaml-stream")  # fmt: skip
    pages = safe_yaml(out)
    assert [p["Events"] for p in pages] == [want[0:2], want[2:4], want[4:5]]
    assert all(isinstance(p["NextToken"], str) for p in pages)
    assert out.count("\n- Events:") == 2 and out.startswith("- Events:")
    names = safe_yaml(ok(capsysbinary, *WINDOW, "--max-items", "3", "--page-size", "2",
                         "--output", "yaml-stream", "--query", "Events[].EventName"))  # fmt: skip
    assert names == [[e["EventName"] for e in want[0:2]], [want[2]["EventName"]]]


def test_several_chains_are_cut_into_pages_of_max_results(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Two values of the server-side key (no AWS CLI equivalent): the merged events in
    pages of --page-size, with no API token (none continues a merge)."""
    names = ["AttributeKey=EventName,AttributeValue=Decrypt",
             "AttributeKey=EventName,AttributeValue=AssumeRole"]  # fmt: skip
    args = [*WINDOW, "--lookup-attributes", *names, "--page-size", "3", "--max-items", "7"]
    merged = json.loads(ok(capsysbinary, *args))["Events"]
    assert len(merged) == 7
    pages = safe_yaml(ok(capsysbinary, *args, "--output", "yaml-stream"))
    assert [p["Events"] for p in pages] == [merged[0:3], merged[3:6], merged[6:7]]
    assert all("NextToken" not in p for p in pages)
    text = ok(capsysbinary, *args, "--output", "text", "--query", "Events[].EventId")
    assert text.splitlines()[:3] == ["\t".join(e["EventId"] for e in merged[i : i + 3])
                                     for i in (0, 3, 6)]  # fmt: skip


def test_yaml_is_written_by_the_c_emitter_as_v2_writes_it() -> None:
    """AWS CLI v2 installs ruamel.yaml.clib and dumps with YAML(typ="safe"), so its YAML
    comes from the C emitter: a long ARN stays on its key's line. The pure emitter folds
    it onto the next line after a trailing space ("ResourceName: \\n      arn:...")."""
    arn = "arn:aws:kms:us-east-1:111122223333:key/01c9e819-5739-4e1c-9a7d-0c2fa02ab" + "0" * 9
    assert dump_yaml({"Resources": [{"ResourceName": arn, "ResourceType": "AWS::KMS::Key"}]}) == (
        f"Resources:\n- ResourceName: {arn}\n  ResourceType: AWS::KMS::Key\n"
    )
    assert dump_yaml({"k": "'q'"}) == "k: '''q'''\n"  # the pure emitter: k: "'q'"


def test_nothing_found(emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """No event: one empty page, printed as the CLI prints an empty response."""
    args = [*WINDOW, "--lookup-attributes", "AttributeKey=EventId,AttributeValue=nothing-has-this"]
    assert ok(capsysbinary, *args, "--output", "yaml-stream") == "- Events: []\n"
    assert ok(capsysbinary, *args, "--output", "yaml") == "Events: []\n"
    assert ok(capsysbinary, *args, "--output", "text") == ""
    # the CLI's box for a dict whose only value is empty: the title alone
    assert ok(capsysbinary, *args, "--output", "table") == (
        "--------------\n|LookupEvents|\n+------------+\n"
    )
    assert ok(capsysbinary, *args, "--output", "text", "--query", "length(Events)") == "0\n"


def test_bad_skeleton_kind(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, out, err = run(capsysbinary, "--generate-cli-skeleton", "yaml")
    assert (code, out) == (2, b"")
    assert "yaml-input" in err


# where the output and timestamp format come from -----------------------------------------
def test_output_from_env_then_config_then_flag(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    args = [*WINDOW, "--max-items", "1", "--query", "Events[].EventId"]
    event_id = truth(emu)[0]["EventId"]
    config_file(tmp_path, monkeypatch, "[default]\noutput = text\n[profile y]\noutput = yaml\n")
    # text: the page, then the NEXTTOKEN line through the same query (None), as the CLI
    assert ok(capsysbinary, *args) == f"{event_id}\nNone\n"
    monkeypatch.setenv("AWS_PROFILE", "y")
    assert ok(capsysbinary, *args) == f"- {event_id}\n"
    monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "table")
    assert ok(capsysbinary, *args).splitlines()[1].strip("| ") == "LookupEvents"
    assert ok(capsysbinary, *args, "--output", "json") == json.dumps([event_id], indent=4) + "\n"


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("[default]\noutput = xml\n", "output in the AWS config file"),
        ("[default]\ncli_timestamp_format = rfc822\n", "cli_timestamp_format"),
    ],
)
def test_bad_config_values_make_no_call(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str, needle: str,
) -> None:  # fmt: skip
    config_file(tmp_path, monkeypatch, config)
    before = emu.emulator.requests
    code, out, err = run(capsysbinary, *WINDOW)
    assert (code, out) == (2, b"")
    assert needle in err and len(err.strip().splitlines()) == 1
    assert emu.emulator.requests == before


def test_iso8601_timestamps_from_the_profile(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """cli_timestamp_format = iso8601: EventTime as botocore + isoformat() show it, before
    --query sees it; none / wire / absent: epoch seconds (the v1 default, kept)."""
    want = truth(emu)[:2]
    iso = [datetime.fromtimestamp(e["EventTime"], UTC).isoformat() for e in want]
    assert iso[0].endswith("+00:00")
    config_file(tmp_path, monkeypatch, "[default]\ncli_timestamp_format = iso8601\n")
    doc = json.loads(ok(capsysbinary, *WINDOW, "--max-items", "2"))
    assert [e["EventTime"] for e in doc["Events"]] == iso
    assert doc["Events"] == [dict(e, EventTime=t) for e, t in zip(want, iso, strict=True)]
    out = ok(capsysbinary, *WINDOW, "--max-items", "2", "--query", "Events[].EventTime",
             "--output", "text")  # fmt: skip
    assert out.splitlines()[0] == "\t".join(iso)
    for value in ("none", "wire"):
        config_file(tmp_path, monkeypatch, f"[default]\ncli_timestamp_format = {value}\n")
        doc = json.loads(ok(capsysbinary, *WINDOW, "--max-items", "2"))
        assert [e["EventTime"] for e in doc["Events"]] == [e["EventTime"] for e in want]


# YAML input ------------------------------------------------------------------------------
def _first_sentence(doc: str) -> str:
    """awscli's get_shape_doc_overview: XML stripped, first sentence, no line breaks."""
    try:
        dom = xml.dom.minidom.parseString(f"<doc>{doc}</doc>")
    except xml.parsers.expat.ExpatError:  # the CLI keeps undecodable docs as they are
        text = doc
    else:
        parts: list[str] = []

        def walk(node: Any) -> None:
            for child in node.childNodes:
                if child.nodeType == node.TEXT_NODE:
                    parts.append(child.data)
                else:
                    walk(child)

        walk(dom)
        text = "".join(parts)
    text = re.split(r"[.:]+", text, maxsplit=1)[0]
    return (text + "." if text else "").replace("\n", " ").replace("\u2028", " ")


def test_yaml_input_skeleton_is_v2s(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """The documented v2 shape: the input skeleton's keys and values, each key commented
    with [REQUIRED], its doc's first sentence and its enum, from botocore's own model."""
    out = ok(capsysbinary, "--generate-cli-skeleton", "yaml-input")
    assert out == YAML_INPUT_SKELETON
    loaded = safe_yaml(out)
    assert list(loaded) == list(INPUT_SKELETON)
    assert loaded["LookupAttributes"] == INPUT_SKELETON["LookupAttributes"]
    assert loaded["StartTime"] == datetime(1970, 1, 1)
    shape = (
        botocore.session.get_session()
        .get_service_model("cloudtrail")
        .operation_model("LookupEvents")
        .input_shape
    )
    rt = YAML()
    built = rt.map()
    for name, member in shape.members.items():
        if member.type_name == "list":
            item = rt.map()
            for sub_name, sub in member.member.members.items():
                item[sub_name] = sub.enum[0] if getattr(sub, "enum", None) else ""
                _comment(item, sub_name, sub, sub_name in member.member.required_members)
            built[name] = [item]
        else:
            enum = getattr(member, "enum", None)
            built[name] = {"timestamp": datetime(1970, 1, 1), "integer": 0}.get(
                member.type_name, enum[0] if enum else ""
            )
        _comment(built, name, member, name in shape.required_members)
    text = io.StringIO()
    rt.dump(built, text)
    assert out == text.getvalue()


def _comment(mapping: Any, name: str, shape: Any, required: bool) -> None:
    parts = (["[REQUIRED]"] if required else []) + [_first_sentence(shape.documentation)]
    if getattr(shape, "enum", None):
        parts.append(f"Valid values are: {', '.join(shape.enum)}.")
    mapping.yaml_add_eol_comment("# " + " ".join(parts), name)


def test_cli_input_yaml_asks_what_cli_input_json_asks(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    """The same parameters as YAML (file:// or inline, YAML timestamps included) print the
    same document as JSON; flags still override the file."""
    start, end = NOW_EPOCH - 5 * HOUR, NOW_EPOCH - HOUR
    value = next(e for e in truth(emu) if start <= e["EventTime"] <= end)["EventSource"]
    as_json = json.dumps({
        "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": value}],
        "StartTime": start, "EndTime": end, "MaxResults": 9,
    })  # fmt: skip
    iso = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M:%S")
    as_yaml = (
        "LookupAttributes:  # from the skeleton\n"
        f"- AttributeKey: EventSource\n  AttributeValue: {value}\n"
        f"StartTime: {iso}\nEndTime: {datetime.fromtimestamp(end, UTC).isoformat()}\n"
        "MaxResults: 9\n"
    )
    path = tmp_path / "in.yaml"
    path.write_text(as_yaml)
    want = ok(capsysbinary, "--cli-input-json", as_json, "--max-items", "20")
    assert json.loads(want)["Events"]
    assert ok(capsysbinary, "--cli-input-yaml", f"file://{path}", "--max-items", "20") == want
    assert ok(capsysbinary, "--cli-input-yaml", as_yaml, "--max-items", "20") == want
    later = ["--end-time", str(NOW_EPOCH - 2 * HOUR), "--max-items", "3"]
    assert ok(capsysbinary, "--cli-input-yaml", as_yaml, *later) == ok(
        capsysbinary, "--cli-input-json", as_json, *later
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("StartTime: [1\nEndTime: 2", "not valid YAML"),
        ("a: 1\na: 2", "not valid YAML"),
        ("- 1\n- 2", "expected a mapping"),
        ("", "expected a mapping"),
        ("MaxResults: ten", "MaxResults"),
        ("MaxResults: true", "MaxResults"),
        ("StartTime: [1, 2]", "StartTime"),
        ("EndTime: true", "EndTime"),
        ("EventCategory: 5", "EventCategory"),
        ("LookupAttributes:\n- AttributeKey: ReadOnly\n  AttributeValue: true", "string"),
        ("LookupAttributes: EventName", "LookupAttributes"),
        ("Region: us-east-1", "unknown key"),
        ("NextToken: 12", "NextToken"),
        ("StartTime: not a time", "--cli-input-yaml StartTime: cannot read"),  # as written
        ("file:///nonexistent/in.yaml", "cannot read"),
    ],
)
def test_bad_yaml_input_makes_no_call(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes], text: str, needle: str
) -> None:
    before = emu.emulator.requests
    code, out, err = run(capsysbinary, "--cli-input-yaml", text)
    assert (code, out) == (2, b""), err
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert emu.emulator.requests == before


def test_one_cli_input_only(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, out, err = run(capsysbinary, "--cli-input-json", "{}", "--cli-input-yaml", "{}")
    assert (code, out) == (2, b"")
    assert "Only one --cli-input-" in err
