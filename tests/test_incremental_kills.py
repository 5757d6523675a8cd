"""Incremental runs that do not finish: killed with SIGKILL and run again, killed between
the output's last checkpoint and the state's save, or with a pair failing mid-way. Each
event of the truth is written exactly once over all runs."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from aiohttp import web

from trailsweep.emulator.protocol import ApiError
from trailsweep.emulator.tamper import Call, Honest

from inproc import run_here
from state_support import (
    LOOKBACK,
    MovingData,
    exactly_once,
    held,
    killed_when_held,
    marks,
    pairs_of,
    split_lines,
    start,
    state_body,
    sweep_args,
)
from support import aws_env, expected_ndjson

# One page at a time per pair, 5 events a page, no timed checkpoint: a run held after a
# few pages has written its first chunks (checkpointed at once, sink.FirstWrites) and no
# more (test_resume.test_early_kills_each_move_the_export_forward has the reasoning).
SLOW_PAGES = (
    "--page-size",
    "5",
    "--no-slices",
    "--read-ahead",
    "0",
    "--checkpoint-interval",
    "600",
)


def test_killed_runs_run_again_write_each_event_once(tmp_path: Path) -> None:
    """Three runs over a stepped data clock, each SIGKILLed once mid-way and run
    again with the same command: every run's file has the bytes of the same run never
    killed (beside it, with its own state), the two states end byte for byte the same,
    and the files together hold the truth of [first start, last end] exactly once."""
    plain, killed = tmp_path / "plain", tmp_path / "killed"
    plain.mkdir()
    killed.mkdir()
    with MovingData(members=1, events_per_day=3000.0) as data:
        env, pairs = aws_env(data.emu), pairs_of(data.emu)
        begin = data.now() - 2 * 3600
        for run, (step, kills) in enumerate(((0, 1), (900, 1), (2 * LOOKBACK, 1)), start=1):
            data.step(step)
            end = data.now()
            for where in (plain, killed):
                out = where / f"run{run}.ndjson"
                args = sweep_args(begin, end, where / "state.json", "-o", str(out), *SLOW_PAGES)
                for _ in range(kills if where == killed else 0):
                    killed_when_held(data.emu, args, env, pages=5)
                    assert state_body(where / "state.json")["pending"]["output"] == str(out)
                result = run_here(args, env=env)
                assert result.returncode == 0, result.stderr.decode()
            name = f"run{run}.ndjson"
            assert (killed / name).read_bytes() == (plain / name).read_bytes(), name
        assert (killed / "state.json").read_bytes() == (plain / "state.json").read_bytes()
        files = [(killed / f"run{run}.ndjson").read_bytes() for run in (1, 2, 3)]
        exactly_once(files, expected_ndjson(data.emu, pairs, start=begin, end=end))


def test_a_run_killed_before_its_state_was_saved_is_committed_next_time(tmp_path: Path) -> None:
    """A run whose file finished but whose state was not saved (the state restored to
    what it was during the run: `pending` names the file) is committed by the next run,
    whichever it is: the same command writes nothing and says the file is complete; the
    next run to another file writes only what is new; but not while that file is gone or
    cut short (its EventIds cannot be read back). The state ends as if never killed."""
    with MovingData(members=1, events_per_day=3000.0) as data:
        env, pairs = aws_env(data.emu), pairs_of(data.emu)
        state, begin = tmp_path / "state.json", data.now() - 2 * 3600
        first = run_here(sweep_args(begin, data.now(), state, "-o", str(tmp_path / "1")), env=env)
        assert first.returncode == 0, first.stderr.decode()
        data.step(600)
        end = data.now()
        second = sweep_args(begin, end, state, "-o", str(tmp_path / "2"))
        with held(data.emu, pages=0) as hold:  # held at its first call: pending is saved
            proc = start(second, env)
            assert hold.held.wait(timeout=120), "the run made no call"  # bounds a hang
            during = state.read_bytes()
            data.emu.call(hold.release.set)
            assert proc.wait(timeout=120) == 0, proc.communicate()[1].decode()
        after = state.read_bytes()
        assert state_body(state)["pending"] is None and state_body(state)["runs"] == 2
        written = (tmp_path / "2").read_bytes()
        assert written == expected_ndjson(data.emu, pairs, start=begin + 2 * 3600 + 1, end=end)

        state.write_bytes(during)  # as if killed after the file finished
        again = run_here(second, env=env)
        assert again.returncode == 0, again.stderr.decode()
        assert (tmp_path / "2").read_bytes() == written
        assert state.read_bytes() == after

        state.write_bytes(during)
        (tmp_path / "2").rename(tmp_path / "shipped")  # a log shipper took it away
        third_args = sweep_args(begin, end + 300, state, "-o", str(tmp_path / "3"))
        for damage in ("gone", "cut short"):
            refused = run_here(third_args, env=env)
            err = refused.stderr.decode()
            assert refused.returncode == 2 and len(err.splitlines()) == 1, err
            assert str(tmp_path / "2") in err and "put it back" in err, err
            assert state.read_bytes() == during and not (tmp_path / "3").exists(), damage
            (tmp_path / "2").write_bytes(written[: len(written) // 2])
        (tmp_path / "shipped").replace(tmp_path / "2")
        data.step(300)
        third = run_here(sweep_args(begin, data.now(), state, "-o", str(tmp_path / "3")), env=env)
        assert third.returncode == 0, third.stderr.decode()
        assert (tmp_path / "3").read_bytes() == expected_ndjson(
            data.emu, pairs, start=end + 1, end=data.now()
        )
        assert state_body(state)["runs"] == 3


class FailPair:
    """An emulator tamper: after `pages` pages served to one pair, its LookupEvents calls
    are refused (AccessDeniedException, which fails the pair; the others go on)."""

    def __init__(self, pair: tuple[str, str], pages: int) -> None:
        self.pair, self.pages, self.served = pair, pages, 0

    async def __call__(self, call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation != "LookupEvents" or (call.account, call.region) != self.pair:
            return await honest()
        if self.served >= self.pages:
            raise ApiError("AccessDeniedException", "denied by the test")
        response = await honest()
        self.served += response.status == 200
        return response


def _out(tmp_path: Path, to_file: bool, run: int) -> list[str]:
    return ["--output", str(tmp_path / f"run{run}.ndjson")] if to_file else []


def _written(tmp_path: Path, to_file: bool, run: int, stdout: bytes) -> bytes:
    return (tmp_path / f"run{run}.ndjson").read_bytes() if to_file else stdout


# Two of the four combinations (the suite's time): time slices into a file, one chain per
# pair to stdout; each sink and each pager is met once.
@pytest.mark.parametrize(
    ("to_file", "slicing"), [(True, "--slices"), (False, "--no-slices")],
    ids=["file-slices", "stdout-no-slices"],
)  # fmt: skip
def test_a_pair_failed_mid_way_is_finished_by_the_next_run(
    tmp_path: Path, to_file: bool, slicing: str
) -> None:
    """A complete run, then an hour later a run in which the busiest pair fails after
    some pages (exit 1): its mark stays where it was, with what it wrote as spans and
    EventIds (bounded by the look-back); the next run, the fault gone, writes exactly
    the events the failed run did not, in order, none twice."""
    with MovingData(members=1, events_per_day=6000.0) as data:
        env, pairs = aws_env(data.emu), pairs_of(data.emu)
        state, begin, mark = tmp_path / "state.json", data.now() - 3600, data.now()
        runs: list[bytes] = []

        def run(number: int, code: int) -> bytes:
            args = sweep_args(begin, end, state, "--page-size", "20", slicing,
                              *_out(tmp_path, to_file, number))  # fmt: skip
            result = run_here(args, env=env)
            assert result.returncode == code, result.stderr.decode()
            runs.append(_written(tmp_path, to_file, number, result.stdout))
            return runs[-1]

        end = mark
        run(1, 0)
        data.step(3600)
        end = data.now()
        new = expected_ndjson(data.emu, pairs, start=mark + 1, end=end)
        counts = {p: len(data.emu.truth(*p, start=mark + 1, end=end)) for p in pairs}
        busiest = max(pairs, key=counts.__getitem__)
        count = counts[busiest]
        data.emu.set_tamper(FailPair(busiest, pages=count * 2 // 3 // 20))
        try:
            failed = run(2, 1)
        finally:
            data.emu.set_tamper(None)
        name = f"{busiest[0]}/{busiest[1]}"
        left = marks(state)[name]
        assert left["end"] == mark and left["spans"], left  # the mark kept, spans recorded
        near = len(data.emu.truth(*busiest, start=end - LOOKBACK, end=end))
        assert len(left["ids"]) <= 2 * near  # the last look-back of both runs, and a few
        assert 0 < len(split_lines(failed)) < len(split_lines(new))

        rest, done = run(3, 0), set(split_lines(failed))
        assert rest == b"".join(x for x in split_lines(new) if x not in done)
        exactly_once(runs, expected_ndjson(data.emu, pairs, start=begin, end=end))
        assert marks(state)[name]["end"] == end and marks(state)[name]["spans"] == []
        assert run(4, 0) == b""


@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "file"])
def test_an_interrupted_run_is_finished_by_the_next(tmp_path: Path, to_file: bool) -> None:
    """SIGINT mid-way (exit 130). To stdout, the state is saved with what was written and
    the next run writes the rest; to a file, the state stays pending (the summary says the
    same command resumes it) and the same command finishes the file. Exactly once."""
    with MovingData(members=1, events_per_day=3000.0) as data:
        env, pairs = aws_env(data.emu), pairs_of(data.emu)
        state, end = tmp_path / "state.json", data.now()
        begin = end - 2 * 3600
        args = sweep_args(begin, end, state, *_out(tmp_path, to_file, 1), *SLOW_PAGES)
        with held(data.emu, pages=5) as hold:
            proc = start(args, env)
            try:
                assert hold.held.wait(timeout=120), "the run made no call"  # bounds a hang
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=120)
            finally:
                proc.kill()
        assert proc.returncode == 130, err.decode()
        truth = expected_ndjson(data.emu, pairs, start=begin, end=end)
        if to_file:
            assert f"state {state}: not saved yet; the same command resumes this run" in (
                err.decode()
            )
            assert state_body(state)["pending"]["output"] == str(tmp_path / "run1.ndjson")
            again = run_here(args, env=env)
            assert again.returncode == 0, again.stderr.decode()
            assert (tmp_path / "run1.ndjson").read_bytes() == truth
            return
        assert 0 < len(split_lines(out)) < len(split_lines(truth))
        assert f"state {state}: saved (run 1)" in err.decode()
        rest = run_here(sweep_args(begin, end, state), env=env)
        assert rest.returncode == 0, rest.stderr.decode()
        done = set(split_lines(out))
        assert rest.stdout == b"".join(x for x in split_lines(truth) if x not in done)
        exactly_once([out, rest.stdout], truth)
