"""Incremental runs (`sweep --state FILE`): each run writes exactly what no earlier run
wrote, to stdout or to a file; pairs that come and go; the state bounded by the look-back.
(Killed runs and failed pairs: test_incremental_kills.py; refusals: test_state_file.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from trailsweep.emulator import EmulatorThread

from inproc import run_here
from state_support import (
    FAST,
    LOOKBACK,
    MovingData,
    exactly_once,
    marks,
    names,
    pairs_of,
    split_lines,
    state_body,
    sweep_args,
)
from support import NOW_EPOCH, aws_env, expected_ndjson, settings

START, END = NOW_EPOCH - 3 * 3600, NOW_EPOCH - 1


@pytest.fixture(scope="module")
def pinned() -> Iterator[EmulatorThread]:
    """3 accounts x 2 regions, data pinned at the hour the suite runs in."""
    with EmulatorThread(
        settings(members=2, suspended=0, events_per_day=2000.0, faults=FAST)
    ) as emu:
        yield emu


def _out(tmp_path: Path, to_file: bool, run: int) -> list[str]:
    """The output flags of run number `run`: stdout, or a file of its own."""
    return ["--output", str(tmp_path / f"run{run}.ndjson")] if to_file else []


def _written(tmp_path: Path, to_file: bool, run: int, stdout: bytes) -> bytes:
    if not to_file:
        return stdout
    assert stdout == b""
    return (tmp_path / f"run{run}.ndjson").read_bytes()


@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "file"])
def test_a_second_run_over_the_same_data_writes_nothing(
    pinned: EmulatorThread, tmp_path: Path, to_file: bool
) -> None:
    """The first run writes exactly the truth of its window and creates the state, every
    pair marked at the run's end; the second, with nothing new, writes nothing, exit 0."""
    env, state = aws_env(pinned), tmp_path / "state.json"
    pairs = pairs_of(pinned)
    first = run_here(sweep_args(START, END, state, *_out(tmp_path, to_file, 1)), env=env)
    assert first.returncode == 0, first.stderr.decode()
    assert _written(tmp_path, to_file, 1, first.stdout) == expected_ndjson(
        pinned, pairs, start=START, end=END
    )
    body = state_body(state)
    assert body["runs"] == 1 and body["pending"] is None and body["end"] == END
    assert sorted(marks(state)) == names(pairs)
    assert all(m["end"] == END and m["spans"] == [] for m in marks(state).values())

    second = run_here(sweep_args(START, END, state, *_out(tmp_path, to_file, 2)), env=env)
    assert second.returncode == 0, second.stderr.decode()
    assert _written(tmp_path, to_file, 2, second.stdout) == b""
    assert state_body(state)["runs"] == 2
    assert f"state {state}: saved (run 2)\n" in second.stderr.decode()


@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "file"])
def test_runs_over_a_moving_clock_write_each_event_once(tmp_path: Path, to_file: bool) -> None:
    """Four runs, the data clock stepped between them (by less than the look-back, by
    more, by one second): each run writes exactly the events after the previous run's
    end, in order; all of them together are the truth of [first start, last end]."""
    with MovingData(members=1, events_per_day=3000.0) as data:
        env, state = aws_env(data.emu), tmp_path / "state.json"
        pairs = pairs_of(data.emu)
        begin = data.now() - 2 * 3600
        outputs, ends = [], [begin - 1]
        for run, step in enumerate((0, 600, 2 * LOOKBACK, 1), start=1):
            data.step(step)
            end = data.now()
            args = sweep_args(begin, end, state, *_out(tmp_path, to_file, run))
            result = run_here(args, env=env)
            assert result.returncode == 0, result.stderr.decode()
            written = _written(tmp_path, to_file, run, result.stdout)
            expected = expected_ndjson(data.emu, pairs, start=ends[-1] + 1, end=end)
            assert written == expected, f"run {run}"
            assert expected or step == 1  # a run with nothing new is one second long only
            outputs.append(written)
            ends.append(end)
        exactly_once(outputs, expected_ndjson(data.emu, pairs, start=begin, end=ends[-1]))
        assert all(m["end"] == ends[-1] for m in marks(state).values())


def _summary(path: Path) -> dict[str, object]:
    doc: dict[str, object] = orjson.loads(path.read_bytes())["incremental"]
    return doc


def test_pairs_added_and_removed_between_runs(pinned: EmulatorThread, tmp_path: Path) -> None:
    """A region added: its pairs are swept from --start-time, and the summary says so; a
    region dropped: its marks are kept, so taking it back writes nothing twice."""
    env, state = aws_env(pinned), tmp_path / "state.json"
    east, west = pairs_of(pinned, ("us-east-1",)), pairs_of(pinned, ("eu-west-1",))
    runs = [
        ("us-east-1", east, START),
        ("all", west, START),  # west is new: its whole window
        ("us-east-1", [], END),  # west left out: nothing new in east
        ("all", [], END),  # west back: nothing new either
    ]
    for run, (regions, fresh, since) in enumerate(runs, start=1):
        summary = tmp_path / f"summary{run}.json"
        args = sweep_args(START, END, state, "--summary-json", str(summary), regions=regions)
        result = run_here(args, env=env)
        err = result.stderr.decode()
        assert result.returncode == 0, err
        assert result.stdout == expected_ndjson(pinned, fresh, start=since, end=END), run
        line = next(x for x in err.splitlines() if x.startswith(f"state {state}:"))
        doc = _summary(summary)
        assert doc["pairs_added"] == (names(east) if run == 1 else names(fresh))
        assert doc["pairs_removed"] == (names(west) if run == 3 else [])
        assert doc["late_caught"] == 0 and doc["lookback"] == LOOKBACK
        if run == 2:
            assert line == (
                f"state {state}: saved (run 2); {len(west)} new account/region pairs swept "
                "from their start"
            )
        if run == 3:
            assert line == (
                f"state {state}: saved (run 3); {len(west)} pairs no longer in the sweep "
                "(their marks kept)"
            )
            assert sorted(marks(state)) == names(east + west)
            assert all(marks(state)[n]["end"] == END for n in names(west))


def test_excluded_account_comes_back_without_repeats(
    pinned: EmulatorThread, tmp_path: Path
) -> None:
    """An account left out of one run (--exclude-accounts) keeps its marks: back in the
    next run, it writes only what is new to it (nothing, the data being pinned)."""
    env, state = aws_env(pinned), tmp_path / "state.json"
    pairs = pairs_of(pinned)
    gone = pairs[0][0]
    kept = [p for p in pairs if p[0] != gone]
    first = run_here(sweep_args(START, END, state), env=env)
    assert first.returncode == 0 and first.stdout == expected_ndjson(
        pinned, pairs, start=START, end=END
    )
    without = run_here(sweep_args(START, END, state, "--exclude-accounts", gone), env=env)
    assert without.returncode == 0, without.stderr.decode()
    assert without.stdout == b"" and "2 pairs no longer in the sweep" in without.stderr.decode()
    back = run_here(sweep_args(START, END, state), env=env)
    assert back.returncode == 0 and back.stdout == b"", back.stderr.decode()
    assert sorted(marks(state)) == names(pairs) and kept


def test_the_state_holds_event_ids_of_the_look_back_only(tmp_path: Path) -> None:
    """After 12 hours of a busy organization, and again after an hour more, each pair's mark
    holds exactly the EventIds of the truth in [end - lookback, end]: the state does not
    grow with the window, and forgets what the look-back has passed."""
    with MovingData(members=1, regions=("us-east-1",), events_per_day=6000.0) as data:
        env, state = aws_env(data.emu), tmp_path / "state.json"
        pairs = pairs_of(data.emu, ("us-east-1",))
        begin = data.now() - 12 * 3600
        for step in (0, 3600):
            data.step(step)
            end = data.now()
            result = run_here(sweep_args(begin, end, state, "--page-size", "50"), env=env)
            assert result.returncode == 0, result.stderr.decode()
            written, kept = result.stdout.count(b"\n"), 0
            for account, region in pairs:
                near = data.emu.truth(account, region, start=end - LOOKBACK, end=end)
                mark = marks(state)[f"{account}/{region}"]
                assert mark["ids"] == {e["EventId"]: e["EventTime"] for e in near}
                assert mark["since"] == end - LOOKBACK
                kept += len(mark["ids"])
            print(f"events written {written}, EventIds kept {kept}, "
                  f"state {state.stat().st_size} B")  # fmt: skip
            assert written > 2 * kept


def test_a_run_stopped_at_max_items_is_finished_by_the_next(
    pinned: EmulatorThread, tmp_path: Path
) -> None:
    """A run stopped at --max-items (exit 0: what was asked for) leaves every pair where
    it stopped; the next run writes exactly the rest, in order, none twice."""
    env, state = aws_env(pinned), tmp_path / "state.json"
    truth = expected_ndjson(pinned, pairs_of(pinned), start=START, end=END)
    first = run_here(sweep_args(START, END, state, "--max-items", "150"), env=env)
    assert first.returncode == 0, first.stderr.decode()
    assert first.stdout == b"".join(split_lines(truth)[:150])
    rest = run_here(sweep_args(START, END, state), env=env)
    assert rest.returncode == 0, rest.stderr.decode()
    assert rest.stdout == b"".join(split_lines(truth)[150:])


def test_a_run_ending_before_the_last_one_is_refused(
    pinned: EmulatorThread, tmp_path: Path
) -> None:
    """A run whose --end-time is before the end of the run the state last saved would
    move the marks back, and a later run would write again what lies between: refused,
    one line naming both ends, before any call; the same end again is fine."""
    env, state = aws_env(pinned), tmp_path / "state.json"
    assert run_here(sweep_args(START, END, state), env=env).returncode == 0
    saved, requests = state.read_bytes(), pinned.emulator.requests
    back = run_here(sweep_args(START, END - 3600, state), env=env)
    err = back.stderr.decode()
    assert back.returncode == 2 and len(err.splitlines()) == 1, err
    assert "--end-time" in err and str(state) in err, err
    assert back.stdout == b"" and state.read_bytes() == saved
    assert pinned.emulator.requests == requests
    again = run_here(sweep_args(START, END, state), env=env)
    assert again.returncode == 0 and again.stdout == b"", again.stderr.decode()
