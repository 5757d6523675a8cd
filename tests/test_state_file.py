"""The state file of incremental runs refused, one line and exit 2, before any call and
with nothing written: another question, a torn or edited file, an unfinished run writing
another file, a bad --lookback, a path that cannot be a file, a state in use."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from trailsweep.emulator import EmulatorThread

from inproc import run_here
from state_support import FAST, held, killed_when_held, start, state_body, sweep_args
from support import NOW_EPOCH, aws_env, settings

START, END = NOW_EPOCH - 3600, NOW_EPOCH - 1


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(settings(members=1, suspended=0, faults=FAST)) as emu:
        yield emu


def _refused(
    emu: EmulatorThread, args: list[str], where: Path, *needles: str
) -> subprocess.CompletedProcess[bytes]:
    """Run `args` (in this process: a refusal before any call is the command's doing, not
    the process's): exit 2, one line on stderr holding every needle, no AWS request made,
    nothing on stdout, and the files in `where` exactly as they were."""
    before = _files(where)
    requests = emu.emulator.requests
    result = run_here(args, env=aws_env(emu))
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert len(err.splitlines()) == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)
    assert result.stdout == b""
    assert emu.emulator.requests == requests, "a refused run made a call"
    _unchanged(before, _files(where))
    return result


def _files(where: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in where.iterdir() if p.is_file()}


def _unchanged(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """No file made or changed; only a lock a killed run left may be gone (the next run
    takes it over, and removes it on leaving: safe_files.Lock)."""
    assert {k: v for k, v in before.items() if k in after} == after
    assert all(name.endswith(".lock") for name in set(before) - set(after)), before.keys()


def _first_run(emu: EmulatorThread, state: Path) -> None:
    result = run_here(sweep_args(START, END, state), env=aws_env(emu))
    assert result.returncode == 0, result.stderr.decode()


OTHER_QUESTIONS = [
    (["--lookup-attributes", "AttributeKey=EventName,AttributeValue=ConsoleLogin"],
     "lookup_attributes"),
    (["--where", "errorCode~AccessDenied"], "where"),
    (["--event-category", "insight"], "event_category"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "named"), OTHER_QUESTIONS, ids=["attributes", "where", "insight"]
)
@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "file"])
def test_a_state_of_another_question_is_refused(
    emu: EmulatorThread, tmp_path: Path, flags: list[str], named: str, to_file: bool
) -> None:
    state = tmp_path / "state.json"
    _first_run(emu, state)
    out = ["--output", str(tmp_path / "out.ndjson")] if to_file else []
    args = sweep_args(START, END, state, *flags, *out)
    _refused(emu, args, tmp_path, str(state), named, "another --state file")
    assert not (tmp_path / "out.ndjson").exists()


def _flip(data: bytes) -> bytes:
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0x01
    return bytes(flipped)


def _edit(data: bytes) -> bytes:
    """Valid JSON of the same shape, one mark moved: only the checksum can tell."""
    doc = orjson.loads(data)
    name = sorted(doc["body"]["pairs"])[0]
    doc["body"]["pairs"][name]["end"] += 3600
    return orjson.dumps(doc)


DAMAGE = [
    (_flip, "corrupt"),
    (lambda data: data[: len(data) // 2], "corrupt"),
    (lambda data: b"", "corrupt"),
    (_edit, "corrupt"),
    (lambda data: b'{"sha256": "x", "body": 1}', "corrupt"),
]


@pytest.mark.parametrize(("damage", "named"), DAMAGE, ids=["flipped", "truncated", "empty",
                                                            "edited", "foreign"])  # fmt: skip
def test_a_torn_or_edited_state_is_refused(
    emu: EmulatorThread, tmp_path: Path, damage: object, named: str
) -> None:
    state = tmp_path / "state.json"
    _first_run(emu, state)
    assert callable(damage)
    state.write_bytes(damage(state.read_bytes()))
    _refused(emu, sweep_args(START, END, state), tmp_path, str(state), named, f"delete {state}")


def test_an_unfinished_run_writing_another_file_is_named(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """A run to a file killed mid-way: a run to another file, or to stdout, is refused,
    naming the file to finish and how; the same command then finishes it."""
    state, first = tmp_path / "state.json", tmp_path / "first.ndjson"
    env = aws_env(emu)
    args = sweep_args(START, END, state, "--output", str(first), "--page-size", "5",
                      "--no-slices", "--read-ahead", "0")  # fmt: skip
    killed_when_held(emu, args, env, pages=3)
    assert state_body(state)["pending"]["output"] == str(first)
    other = sweep_args(START, END, state, "--output", str(tmp_path / "second.ndjson"))
    _refused(emu, other, tmp_path, str(first), f"--output {first}")
    _refused(emu, sweep_args(START, END, state), tmp_path, str(first), f"--output {first}")
    assert not (tmp_path / "second.ndjson").exists()
    finished = run_here(args, env=env)
    assert finished.returncode == 0, finished.stderr.decode()
    assert state_body(state)["pending"] is None


@pytest.mark.parametrize("value", ["0", "-5", "59", "soon", "8d", "20 m", "1.5h", ""])
def test_a_bad_lookback_is_refused(emu: EmulatorThread, tmp_path: Path, value: str) -> None:
    state = tmp_path / "state.json"
    _refused(emu, sweep_args(START, END, state, f"--lookback={value}"), tmp_path, "--lookback")
    assert not state.exists()


def test_a_lookback_without_a_state_is_refused(emu: EmulatorThread, tmp_path: Path) -> None:
    """--lookback means nothing without --state: said, rather than ignored."""
    args = sweep_args(START, END, tmp_path / "state.json", "--lookback", "5m")
    args = args[: args.index("--state")] + args[args.index("--state") + 2 :]
    _refused(emu, args, tmp_path, "--lookback goes with --state")


def test_a_state_path_that_cannot_be_a_file_is_refused(emu: EmulatorThread, tmp_path: Path) -> None:
    """In a directory that does not exist, or a directory itself: the line says which
    and what to do, and names --state (not --output)."""
    missing = tmp_path / "no" / "state.json"
    _refused(emu, sweep_args(START, END, missing), tmp_path, "--state", "does not exist")
    assert not (tmp_path / "no").exists()
    folder = tmp_path / "dir"
    folder.mkdir()
    _refused(emu, sweep_args(START, END, folder), tmp_path, "--state", "is a directory")
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "file"])
def test_a_state_in_use_is_refused(emu: EmulatorThread, tmp_path: Path, to_file: bool) -> None:
    """While a run holds the state (held at its first call), a second run on it exits 2
    with one line naming the state; the first then finishes as if alone."""
    state, env = tmp_path / "state.json", aws_env(emu)
    first_out = ["--output", str(tmp_path / "a.ndjson")] if to_file else []
    second_out = ["--output", str(tmp_path / "b.ndjson")] if to_file else []
    with held(emu, pages=0) as hold:
        first = start(sweep_args(START, END, state, *first_out), env)
        try:
            assert hold.held.wait(timeout=120), "the first run made no call"  # bounds a hang
            result = run_here(sweep_args(START, END, state, *second_out), env=env)
            err = result.stderr.decode()
            assert result.returncode == 2 and len(err.splitlines()) == 1, err
            assert str(state) in err and "another trailsweep" in err and "--state" in err, err
            assert "--output" not in err, err
            assert result.stdout == b"" and not (tmp_path / "b.ndjson").exists()
        finally:
            emu.call(hold.release.set)
            _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err.decode()
    assert state_body(state)["runs"] == 1
