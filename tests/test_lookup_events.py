"""`trailsweep lookup-events` against the emulator: the AWS CLI's document and tokens (the
side-by-side comparison with the real AWS CLI lives in compat/, run by `make compat`)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from trailsweep.base.errors import InputError
from trailsweep.cli.app import main, spread_lists
from trailsweep.emulator import EmulatorThread
from trailsweep.engine.single_pair import (
    CURSOR_KEY,
    MODEL_ORDER,
    decode_starting_token,
    encode_token,
)

from support import NOW_EPOCH, UseEmu

HOUR = 3600
WINDOW = ["--start-time", str(NOW_EPOCH - 8 * HOUR), "--end-time", str(NOW_EPOCH)]


def run(
    capsysbinary: pytest.CaptureFixture[bytes], *args: str
) -> tuple[int, bytes, str]:  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main(["lookup-events", *args])
    out, err = capsysbinary.readouterr()
    code = exit_info.value.code
    return int(code) if isinstance(code, int) else 1, out, err.decode()


def doc(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> dict[str, Any]:
    code, out, err = run(capsysbinary, *args)
    assert code == 0, err
    parsed: dict[str, Any] = json.loads(out)
    return parsed


@pytest.fixture
def emu(fast_emu: EmulatorThread, use_emu: UseEmu) -> EmulatorThread:
    use_emu(fast_emu)
    return fast_emu


def truth(emu: EmulatorThread, attribute: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    account = emu.emulator.world.management.id
    return emu.truth(
        account, "us-east-1", start=NOW_EPOCH - 8 * HOUR, end=NOW_EPOCH, attribute=attribute
    )


def test_document_is_what_the_aws_cli_prints(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """json.dumps(indent=4, ensure_ascii=False) bytes, keys in model order, wire EventTime."""
    code, out, err = run(capsysbinary, *WINDOW, "--max-items", "3", "--page-size", "2")
    assert code == 0, err
    parsed = json.loads(out)
    assert out.decode() == json.dumps(parsed, indent=4, ensure_ascii=False) + "\n"
    want = truth(emu)[:3]
    assert parsed["Events"] == want
    for event in parsed["Events"]:
        assert list(event) == [k for k in MODEL_ORDER if k in event]
    assert isinstance(parsed["Events"][0]["EventTime"], int)
    token = json.loads(base64.b64decode(parsed["NextToken"]))
    assert list(token) == ["NextToken", "boto_truncate_amount"]
    assert token["boto_truncate_amount"] == 1
    code, out, _ = run(capsysbinary, *WINDOW, "--lookup-attributes",
                       "AttributeKey=EventId,AttributeValue=nothing-has-this")  # fmt: skip
    assert out == b'{\n    "Events": []\n}\n'


# (page size, --max-items, events walked): the walks over small pages cross six page
# ends, those over pages of 50 one; --max-items cuts pages mid-way except at 3/3 and
# 50/50. A run is a whole command (a new session, about 0.3 s of CPU), so walks are no
# longer than that: 60 runs of one event each took over 180 s on a loaded 2-core machine.
WALKS = [(50, 7, 60), (3, 3, 20), (3, 4, 20), (2, 1, 12), (50, 50, 60)]


@pytest.mark.parametrize(("page_size", "max_items", "walked"), WALKS)
def test_starting_token_walks_everything_once(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes], page_size: int,
    max_items: int, walked: int,
) -> None:  # fmt: skip
    everything = [e["EventId"] for e in truth(emu)]
    want = everything[:walked]
    got: list[str] = []
    token: str | None = None
    while len(got) < len(want):
        more = ["--starting-token", token] if token else []
        args = [*WINDOW, "--page-size", str(page_size), "--max-items", str(max_items), *more]
        d = doc(capsysbinary, *args)
        assert len(d["Events"]) == min(max_items, len(everything) - len(got))
        got += [e["EventId"] for e in d["Events"]]
        token = d.get("NextToken")
        assert (token is None) == (len(got) == len(everything))
        if token is None:
            break
    assert got[: len(want)] == want


def test_last_page_has_no_token(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Everything printed: no NextToken, whether or not --max-items was given."""
    n = len(truth(emu, ("Username", "alice")))
    assert 0 < n < 200
    attr = ["--lookup-attributes", "AttributeKey=Username,AttributeValue=alice"]
    assert "NextToken" not in doc(capsysbinary, *WINDOW, *attr)
    exact = doc(capsysbinary, *WINDOW, *attr, "--max-items", str(n))
    assert len(exact["Events"]) == n
    assert "NextToken" not in exact


def test_or_query_resumes_with_its_cursor(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Two values of one key: a TrailsweepCursor token continues exactly, and the whole
    equals the two truths merged newest first, each event once."""
    names = ["AttributeKey=EventName,AttributeValue=Decrypt",
             "AttributeKey=EventName,AttributeValue=AssumeRole"]  # fmt: skip
    whole = doc(capsysbinary, *WINDOW, "--lookup-attributes", *names)["Events"]
    merged = truth(emu, ("EventName", "Decrypt")) + truth(emu, ("EventName", "AssumeRole"))
    assert sorted(e["EventId"] for e in whole) == sorted(e["EventId"] for e in merged)
    assert [e["EventTime"] for e in whole] == sorted((e["EventTime"] for e in whole), reverse=True)
    got: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        more = ["--starting-token", token] if token else []
        d = doc(capsysbinary, *WINDOW, "--lookup-attributes", *names, "--max-items", "9", *more)
        got += d["Events"]
        token = d.get("NextToken")
        if token is None:
            break
        assert CURSOR_KEY in json.loads(base64.b64decode(token))
    assert got == whole


def test_filters_cost_no_extra_calls(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """--where and a second key run on the client: the calls are the pushed query's."""
    value = truth(emu)[0]["EventSource"]
    attr = f"AttributeKey=EventSource,AttributeValue={value}"
    n = len(truth(emu, ("EventSource", value)))
    before = emu.emulator.requests
    readonly = "AttributeKey=ReadOnly,AttributeValue=true"
    d = doc(capsysbinary, *WINDOW, "--page-size", "5", "--lookup-attributes", attr, readonly,
            "--where", "userIdentity.type exists")  # fmt: skip
    assert emu.emulator.requests - before == max(1, -(-n // 5))
    for e in d["Events"]:
        assert e["EventSource"] == value
        assert e["ReadOnly"] == "true"


@pytest.mark.parametrize(
    ("args", "needle", "want_code"),
    [
        (["--starting-token", "garbage"], "InvalidNextTokenException", 2),
        (["--next-token", "garbage"], "InvalidNextTokenException", 2),
        (["--region", "ap-south-2"], "UnrecognizedClientException", 1),
        (["--output", "xml"], "--output", 2),
        (["--max-items", "0"], "--max-items", 2),
        (["--where", "nonsense"], "--where", 2),
        (["--no-paginate", "--page-size", "3"], "--no-paginate", 2),
    ],
)
def test_errors(
    emu: EmulatorThread, capsysbinary: pytest.CaptureFixture[bytes],
    args: list[str], needle: str, want_code: int,
) -> None:  # fmt: skip
    """One line on stderr, nothing on stdout (no half document), exit 2 for bad input."""
    code, out, err = run(capsysbinary, *args)
    assert code == want_code, err
    assert out == b""
    assert needle in err
    assert len(err.strip().splitlines()) == 1


def test_tokens_decode_like_botocore() -> None:
    cli = encode_token({"NextToken": "abc", "boto_truncate_amount": 3})
    assert base64.b64decode(cli) == b'{"NextToken": "abc", "boto_truncate_amount": 3}'
    cur, by_time = decode_starting_token(cli)
    assert (cur.token, cur.skip, by_time) == ("abc", 3, False)
    cur, _ = decode_starting_token(encode_token({"NextToken": None, "boto_truncate_amount": 2}))
    assert (cur.token, cur.skip) == (None, 2)
    cur, _ = decode_starting_token("rawtoken___4")  # botocore's old form
    assert (cur.token, cur.skip) == ("rawtoken", 4)
    cur, _ = decode_starting_token("a-raw-api-token")
    assert (cur.token, cur.skip) == ("a-raw-api-token", 0)
    cur, by_time = decode_starting_token(encode_token({CURSOR_KEY: {"time": 5, "ids": ["x"]}}))
    assert (cur.oldest, cur.ids, by_time) == (5, ["x"], True)
    with pytest.raises(InputError):
        decode_starting_token(encode_token({CURSOR_KEY: {"time": "soon"}}))


def test_list_flags_take_several_words() -> None:
    """`--lookup-attributes A B` as the AWS CLI takes it."""
    argv = ["lookup-events", "--lookup-attributes", "A", "B", "--max-items", "3", "--where", "x=1"]
    assert spread_lists(argv) == [
        "lookup-events", "--lookup-attributes", "A", "--lookup-attributes", "B",
        "--max-items", "3", "--where", "x=1",
    ]  # fmt: skip


def test_help_says_what_runs_where(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["lookup-events", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "runs on the server" in text
    assert "--starting-token" in text
    assert "run here, on each returned event" in text
