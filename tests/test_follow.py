"""Follow mode: a follower (trailsweep.api.follow.Follower) against an emulator whose data
clock is the follower's own virtual clock, so an hour of polling runs in seconds and the
same way on a busy machine: the emulator runs `realtime` on a shared ManualClock, and each
of the follower's sleeps (its limiter's, its wait between polls) moves both."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from trailsweep import SweepSettings
from trailsweep.api.follow import Follower, FollowParts
from trailsweep.api.incremental import fresh_state
from trailsweep.output.state import load, save
from trailsweep.testing import ManualClock, RunningEmulator, running_emulator

from inproc import run_here
from support import LINE_KEYS, NOW_EPOCH, expected_line

# Where the virtual clocks begin: this hour (the client checks the credentials the
# emulator stamps against the real clock, so virtual time starts at real time).
START = NOW_EPOCH
REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture
def clocked() -> Iterator[tuple[RunningEmulator, ManualClock]]:
    """An emulator whose data clock runs on a ManualClock that starts at START."""
    clock = ManualClock(wall=START)
    now = datetime.fromtimestamp(START, UTC)
    with running_emulator(
        seed=11, now=now, clock=clock, realtime=True, members=2, suspended=0,
        regions=REGIONS, events_per_day=3000.0, faults={"credential_ttl": 3 * 86400.0},
    ) as emu:  # fmt: skip
        yield emu, clock


def follow_settings(emu: RunningEmulator, clock: ManualClock, **kw: Any) -> SweepSettings:
    return SweepSettings.build(
        accounts="org", regions=",".join(REGIONS), start_time="30m", follow=True,
        now=datetime.fromtimestamp(clock.wall(), UTC), **emu.connection, **kw,
    )  # fmt: skip


def pairs_of(emu: RunningEmulator) -> list[tuple[str, str]]:
    return [(a, r) for a in emu.accounts for r in REGIONS]


def run_polls(
    follower: Follower, polls: int, on_poll: Callable[[Follower], None] | None = None
) -> list[bytes]:
    """Run `follower` for `polls` polls; what it wrote, one bytes per poll (each flush)."""
    written: list[bytes] = []
    current: list[bytes] = []

    async def main() -> None:
        async with anyio.create_task_group() as tg:

            def after(f: Follower) -> None:
                if on_poll is not None:
                    on_poll(f)
                if f.polls >= polls:
                    tg.cancel_scope.cancel()

            def flush() -> None:
                written.append(b"".join(current))
                current.clear()

            follower.on_poll = after
            tg.start_soon(follower.run, current.append, flush)

    anyio.run(main)
    return written


def truth_lines(
    emu: RunningEmulator, start: int, end: int, *, arrived: bool = True
) -> Counter[bytes]:
    out: Counter[bytes] = Counter()
    for account, region in pairs_of(emu):
        for e in emu.truth(account, region, start=start, end=end):
            out[expected_line(account, region, e)] += 1
    return out


def event_times(chunk: bytes) -> list[tuple[int, str, str]]:
    """(EventTime, account, region) of each line, as the format states them."""
    out = []
    for line in chunk.splitlines():
        doc = orjson.loads(line)
        when = int(datetime.strptime(doc["EventTime"], "%Y-%m-%dT%H:%M:%SZ")
                   .replace(tzinfo=UTC).timestamp())  # fmt: skip
        out.append((when, doc["account"], doc["region"]))
    return out


def test_a_follower_writes_each_event_once_newest_first_within_each_poll(
    clocked: tuple[RunningEmulator, ManualClock],
) -> None:
    emu, clock = clocked
    settings = follow_settings(emu, clock)
    first = START - 30 * 60
    follower = Follower(settings, fresh_state(settings), clock=clock)
    polls = run_polls(follower, 120)  # an hour at 30 s
    assert follower.last_end is not None and follower.last_end >= START + 119 * 30
    lines = Counter(line + b"\n" for poll in polls for line in poll.splitlines())
    assert lines == truth_lines(emu, first, follower.last_end)
    assert max(lines.values()) == 1
    for poll in polls:  # one ordered sweep per poll: newest first, ties by account, region
        keys = [(-t, a, r) for t, a, r in event_times(poll)]
        assert keys == sorted(keys)
    assert sum(1 for p in polls[1:] if p) > 60  # events kept coming as the clock moved


def test_an_idle_pair_costs_one_call_a_poll(
    clocked: tuple[RunningEmulator, ManualClock],
) -> None:
    emu, clock = clocked
    settings = follow_settings(
        emu, clock, lookup_attributes=["AttributeKey=EventName,AttributeValue=NoSuchEvent"]
    )
    follower = Follower(settings, fresh_state(settings), clock=clock)
    run_polls(follower, 20)
    stats = emu.thread.stats()
    calls = {k: v["calls"] for k, v in stats["pairs"].items()}
    assert len(calls) == len(pairs_of(emu))
    assert set(calls.values()) == {20}  # one empty page a poll, each pair
    assert stats["totals"]["throttled"] == 0


def test_with_settle_events_come_oldest_first_once_older_than_the_look_back(
    clocked: tuple[RunningEmulator, ManualClock],
) -> None:
    emu, clock = clocked
    settings = follow_settings(emu, clock, settle=True, lookback="5m")
    follower = Follower(settings, fresh_state(settings), clock=clock)
    polls = run_polls(follower, 60)
    assert follower.last_end is not None
    out = b"".join(polls)
    keys = event_times(out)
    assert [t for t, _, _ in keys] == sorted(t for t, _, _ in keys)  # like a log
    lines = Counter(line + b"\n" for line in out.splitlines())
    expected = truth_lines(emu, START - 30 * 60, follower.last_end - 5 * 60 - 1)
    assert lines == expected


def test_a_follower_restarted_from_its_state_goes_on_exactly_once(
    clocked: tuple[RunningEmulator, ManualClock], tmp_path: Path
) -> None:
    emu, clock = clocked
    path = tmp_path / "follow.state"
    settings = follow_settings(emu, clock)
    one = Follower(settings, fresh_state(settings), clock=clock)
    one.save = lambda state: save(path, state)
    out = run_polls(one, 40)
    clock.advance(300)  # stopped for five minutes
    settings = follow_settings(emu, clock)  # a new process: its own window
    two = Follower(settings, load(path), clock=clock)
    out += run_polls(two, 40)
    assert two.last_end is not None
    lines = Counter(line + b"\n" for poll in out for line in poll.splitlines())
    assert lines == truth_lines(emu, START - 30 * 60, two.last_end)


def test_a_failing_pair_is_retried_and_loses_nothing(
    clocked: tuple[RunningEmulator, ManualClock],
) -> None:
    emu, clock = clocked
    member = emu.accounts[1]
    emu.thread.set_faults(deny_accounts=[member])
    settings = follow_settings(emu, clock)
    follower = Follower(settings, fresh_state(settings), clock=clock)
    seen_failing: list[int] = []

    def lift(f: Follower) -> None:
        seen_failing.append(len(f.failing))
        if f.polls == 10:
            emu.thread.set_faults(deny_accounts=[])

    polls = run_polls(follower, 60, lift)
    assert seen_failing[0] == len(REGIONS) and seen_failing[-1] == 0
    assert follower.last_end is not None
    lines = Counter(line + b"\n" for poll in polls for line in poll.splitlines())
    assert lines == truth_lines(emu, START - 30 * 60, follower.last_end)


def test_follow_with_an_output_file_is_refused_before_any_call(tmp_path: Path) -> None:
    for args, word in (
        (["--follow", "-o", str(tmp_path / "x.ndjson")], "--follow writes to stdout"),
        (["--settle"], "--settle goes with --follow"),
        (["--poll-interval", "5s"], "--poll-interval goes with --follow"),
        (["--follow", "--poll-interval", "0"], "--poll-interval"),
        (["--follow", "--max-items", "5"], "--max-items ends a sweep"),
        (["--lookback", "5m"], "--lookback goes with --state or --follow"),
    ):
        done = run_here(["sweep", *args], env={"PATH": "/usr/bin", "AWS_ACCESS_KEY_ID": "x"})
        assert done.returncode == 2, (args, done.stderr)
        err = done.stderr.decode()
        assert word in err and err.count("\n") == 1, (args, err)
        assert done.stdout == b""
        assert not (tmp_path / "x.ndjson").exists()


@pytest.mark.parametrize("into", ["stdout", "parts"])
def test_sigterm_stops_a_follower_with_exit_0_its_events_written_and_state_saved(
    tmp_path: Path, into: str
) -> None:
    """The CLI as systemd runs it: real clocks, a pinned emulator; the test waits for the
    follower's second periodic line (--verbose writes one each poll), then stops it as
    systemd would. Into parts, the open part is closed (and the state saved with it)."""
    spool = tmp_path / "spool"
    spool.mkdir()
    extra = ["--output-dir", str(spool)] if into == "parts" else []
    with running_emulator(seed=5, members=1, suspended=0, regions=REGIONS) as emu:
        state = tmp_path / "follow.state"
        args = [
            sys.executable, "-m", "trailsweep", "sweep", "--accounts", "org", "--regions",
            ",".join(REGIONS), "--start-time", str(emu.now - 7200), "--follow",
            "--poll-interval", "1s",
            "--state", str(state), "--verbose", "--summary-json", str(tmp_path / "s.json"),
            *extra,
        ]  # fmt: skip
        out_path = tmp_path / "out.ndjson"
        with out_path.open("wb") as sink:  # a file: a full pipe would stall the follower
            proc = subprocess.Popen(
                args, env=emu.env(), stdout=sink, stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        assert proc.stderr is not None
        polls = 0
        for raw in proc.stderr:  # blocks until the follower says something
            if raw.startswith(b"trailsweep: following"):
                polls += 1
                if polls == 2:
                    break
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode == 0
        out = out_path.read_bytes()
        if into == "parts":
            assert out == b""
            out = b"".join(p.read_bytes() for p in sorted(spool.glob("*.ndjson")))
            assert not list(spool.glob(".*.tmp"))
        end = emu.now
        lines = Counter(out.splitlines(keepends=True))
        assert lines == truth_lines(emu, end - 7200, end)
        saved = load(state)
        assert saved.pending is None and saved.runs >= 2
        assert {f"{a}/{r}" for a, r in pairs_of(emu)} == set(saved.marks)
        summary = orjson.loads((tmp_path / "s.json").read_bytes())
        assert summary["follow"]["events"] == len(out.splitlines())


def test_with_delivery_lag_an_hour_of_following_misses_nothing_and_restarts_exactly_once(
    tmp_path: Path,
) -> None:
    """CloudTrail's lag on (the emulator's model: about 5 minutes, up to 15): events land
    behind newer ones already written, and the 20-minute look-back still catches every
    one, across a restart from --state. What the follower wrote is everything that had
    arrived by its last poll (and at most what arrived while that poll ran), once."""
    clock = ManualClock(wall=START)
    with running_emulator(
        seed=12, now=datetime.fromtimestamp(START, UTC), clock=clock, realtime=True,
        lag=True, members=2, suspended=0, regions=REGIONS, events_per_day=3000.0,
        faults={"credential_ttl": 3 * 86400.0},
    ) as emu:  # fmt: skip
        path = tmp_path / "follow.state"
        settings = follow_settings(emu, clock)
        one = Follower(settings, fresh_state(settings), clock=clock)
        one.save = lambda state: save(path, state)
        out = run_polls(one, 60)
        two = Follower(follow_settings(emu, clock), load(path), clock=clock)
        out += run_polls(two, 60)
        assert two.last_end is not None
        end, first = two.last_end, START - 30 * 60
        got = Counter(line + b"\n" for poll in out for line in poll.splitlines())
        assert max(got.values()) == 1
        floor = Counter[bytes]()
        ceiling = Counter[bytes]()
        for account, region in pairs_of(emu):
            for e in emu.truth(account, region, start=first, end=end, as_of=end):
                floor[expected_line(account, region, e)] += 1
            for e in emu.truth(account, region, start=first, end=end, as_of=emu.now):
                ceiling[expected_line(account, region, e)] += 1
        assert not floor - got  # nothing that had arrived is missing
        assert not got - ceiling  # nothing that had not arrived, nothing else
        # Lag as measured: the delivery delay plus the wait for a poll, within the look-back.
        assert two.lag.count > 0 and two.lag.most < settings.lookback
        # The documented order: a late event comes after newer ones an earlier poll wrote.
        newest = 0
        behind = 0
        for poll in out:
            times = [t for t, _, _ in event_times(poll)]
            behind += sum(t < newest for t in times)
            newest = max([newest, *times])
        assert behind > 0


def test_demo_follow_shows_late_events_arriving_and_stops_with_exit_0(tmp_path: Path) -> None:
    """`trailsweep demo --follow`: the lag on, its clock fast; the test reads stderr until
    a poll line reports a measured lag, then stops it as Ctrl-C does."""
    with (tmp_path / "out.ndjson").open("wb") as sink:  # a file: a full pipe would stall it
        proc = subprocess.Popen(
            [sys.executable, "-m", "trailsweep", "demo", "--follow", "--speed", "120"],
            stdout=sink, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert proc.stderr is not None
    measured = b""
    for raw in proc.stderr:
        if raw.startswith(b"trailsweep: following") and b"lag p50 -" not in raw:
            measured = raw
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"lag p50 " in measured and b"newest event" in measured
    lines = (tmp_path / "out.ndjson").read_bytes().splitlines()
    assert lines and all(tuple(orjson.loads(line))[:4] == LINE_KEYS[:4] for line in lines)
    assert b"stopping; flushing stdout" in err


class EmulatorProcess:
    """`trailsweep emulator` in a process of its own (its memory is not the test's), its
    data clock set by the test through the control API."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trailsweep", "emulator", "--port", "0", *args],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.info: dict[str, Any] = orjson.loads(self.proc.stdout.readline())

    def set_now(self, epoch: float) -> None:
        req = urllib.request.Request(
            self.info["url"] + "/_emulator/clock", data=orjson.dumps({"now": int(epoch)}),
            headers={"Authorization": f"Bearer {self.info['control_token']}"}, method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=30) as answer:
            assert answer.status == 200

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def resident_bytes() -> int:
    """This process's resident memory now (Linux /proc), not its peak."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def test_memory_stays_flat_over_hours_of_following() -> None:
    """Six simulated hours against an emulator in its own process, whose data clock the
    test moves to the follower's virtual clock at every poll: what the follower keeps
    (EventIds, lag buckets) is bounded by the look-back, so the memory of this process
    (the follower's) after one hour is its memory after six."""
    start = NOW_EPOCH - 12 * 3600
    clock = ManualClock(wall=start)
    emu = EmulatorProcess(
        "--now", str(start), "--members", "2", "--suspended", "0", "--regions",
        ",".join(REGIONS), "--events-per-day", "3000", "--rate", "1000", "--burst", "1000",
    )  # fmt: skip
    try:
        info = emu.info
        settings = SweepSettings.build(
            accounts="org", regions=",".join(REGIONS), start_time="30m", follow=True,
            poll_interval="60s", now=datetime.fromtimestamp(start, UTC),
            endpoint_url=info["url"], region=info["region"],
            access_key_id=info["access_key_id"], secret_access_key=info["secret_access_key"],
        )  # fmt: skip
        follower = Follower(settings, fresh_state(settings), clock=clock)
        rss: dict[int, int] = {}
        kept: list[int] = []
        counted = [0]

        def count(data: bytes) -> None:  # lines are counted, not kept
            counted[0] += data.count(b"\n")

        async def main() -> None:
            async with anyio.create_task_group() as tg:

                def after(f: Follower) -> None:
                    kept.append(sum(len(m.ids) for m in f.state.marks.values()))
                    if f.polls in (60, 360):
                        gc.collect()
                        rss[f.polls] = resident_bytes()
                    if f.polls >= 360:
                        tg.cancel_scope.cancel()
                    emu.set_now(clock.wall() + settings.poll_interval)  # the next poll's

                follower.on_poll = after
                tg.start_soon(follower.run, count, lambda: None)

        emu.set_now(clock.wall())
        anyio.run(main)
    finally:
        emu.stop()
    assert counted[0] == follower.events > 4000  # events kept coming all along
    growth = rss[360] - rss[60]
    print(f"RSS at hour 1 {rss[60] / 2**20:.1f} MiB, at hour 6 {rss[360] / 2**20:.1f} MiB; "
          f"EventIds kept at most {max(kept)} of {follower.events} events")  # fmt: skip
    assert growth < 4 * 2**20, f"RSS {rss[60] >> 20} MiB at hour 1, {rss[360] >> 20} at hour 6"
    # EventIds kept: the last look-back's (20 minutes of ~6 pairs), never the whole run.
    assert max(kept[60:]) < 3 * max(kept[20:60]) and max(kept) < follower.events / 10


def test_a_follower_into_parts_killed_and_restarted_writes_each_event_once(
    clocked: tuple[RunningEmulator, ManualClock], tmp_path: Path
) -> None:
    """--follow --output-dir: parts close between polls, each close saving the state. The
    first follower stops as a SIGKILL would (no close: its open part stays a temp file);
    the second, from the state, removes it and polls that span again."""
    emu, clock = clocked
    spool, path = tmp_path / "spool", tmp_path / "follow.state"
    spool.mkdir()

    def follow(polls: int) -> Follower:
        settings = follow_settings(
            emu, clock, output_dir=str(spool), part_size="64KiB", state=str(path)
        )
        state = load(path) if path.exists() else fresh_state(settings)
        follower = Follower(settings, state, clock=clock)
        parts = FollowParts(settings, commit=lambda _: save(path, follower.commit()), clock=clock)
        try:
            killed_while_writing(follower, polls, parts.write, parts.flush)
        finally:
            parts.lock.release()  # killed: the open part is left as it is
        return follower

    follow(40)
    assert list(spool.glob(".*.tmp")), sorted(p.name for p in spool.iterdir())
    follow(40)  # and is killed too
    names = sorted(p.name for p in spool.glob("*.ndjson"))
    assert len(names) > 5
    assert [int(n.split("-")[2].split(".")[0]) for n in names] == list(range(1, len(names) + 1))
    got = Counter(line for n in names for line in (spool / n).read_bytes().splitlines(True))
    # Exactly the events up to the end of the poll that closed the last part, whose state
    # was saved as it closed: what followed it is in the temp part a restart drops.
    saved = load(path)
    assert saved.end is not None and saved.pending is None
    assert got == truth_lines(emu, START - 30 * 60, saved.end)
    assert max(got.values()) == 1


def killed_while_writing(
    follower: Follower, polls: int, write: Callable[[bytes], None], flush: Callable[[], None]
) -> None:
    """Run `follower`, and stop it as a kill would (nothing closed) right after it writes
    lines once `polls` polls are done: mid-poll, with an open part."""

    killed = [False]

    async def main() -> None:
        async with anyio.create_task_group() as tg:

            def written(data: bytes) -> None:
                if killed[0]:
                    return
                write(data)
                if follower.polls >= polls and data:
                    killed[0] = True  # dead from here: nothing more is written or closed
                    tg.cancel_scope.cancel()

            def flushed() -> None:
                if not killed[0]:
                    flush()

            tg.start_soon(follower.run, written, flushed)

    anyio.run(main)
