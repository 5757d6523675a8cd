"""Follow mode (`sweep --follow`) for a simulated hour, against the naive poller the peers
are, on the emulator with CloudTrail's delivery lag.

    python benchmarks/follow.py [--quick]

100 pairs (25 accounts x 4 regions, the emulator's busy, normal and quiet tiers at skew
100, some pairs idle for the day) are followed for an hour of data clock at the default
--poll-interval 30 s and --lookback 20 m, with the lag at AWS's stated times (about 5
minutes, 1 in 20 events 9 to 15). Then the same with --lookback 5 m, shorter than the lag
tail. Figures: calls per pair per simulated minute, share of the quota used, throttled
calls, client CPU per event, peak RSS, the lag the follower measured; and the events each
misses: ours counted from the emulator's truth (every event that had arrived by the last
poll), the naive poller's simulated exactly from the truth's arrival times at the same
poll times. JSON goes to benchmarks/results/follow.json.

How the hour is simulated honestly about rate: the emulator runs in its own process with
its data clock at S data seconds per wall second (`--clock-speed S`) and its quota scaled
to S x 2 calls/s; the follower runs in a child process on `ScaledClock` (its monotonic
time and sleeps S times faster, its wall the emulator's data clock), with `--rate 2`, so
it paces 2 calls/s in simulated time, which is S x 2 in real time. The child's CPU time
and peak RSS are its own (wait4; CPU per event from the run alone, without the start).
S is 12 (an hour in 5 minutes; --quick: 30, 10 minutes in 20 s). Faster, the machine's
own jitter is scaled up with everything else: at 30, calls of a pair are 17 ms apart in
real time, a few ms of event-loop delay is a simulated tenth of a second, and two calls
can meet in the emulator's bucket: at 30 with 100 pairs 0.9% of calls came back
throttled, at 12 0.1% (nearly all in the catch-up poll, one a pair), at 10 with 20 pairs
none. Each throttled call is retried; no figure but `throttled` changes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from bisect import bisect_left
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sweep import REGIONS, RESULTS, Emulator, table  # noqa: E402

# Pinned, so every run follows the same events: a Wednesday at 09:00 UTC (office hours,
# a weekday: the emulator's busier hours; its idle days are fixed by the seed).
NOW = "2026-11-04T09:00:00Z"
SEED = 21
PAGE = 50  # events per LookupEvents page
CATCH_UP = 1800  # the follower's first window (--start-time 30m), the naive poller's too


@dataclass(frozen=True)
class Plan:
    accounts: int
    minutes: int
    speed: float  # data seconds per wall second
    events_per_day: float
    lookbacks: tuple[int, ...]  # minutes; the first is the default's run


FULL = Plan(accounts=25, minutes=60, speed=12.0, events_per_day=300.0, lookbacks=(20, 5))
QUICK = Plan(accounts=5, minutes=10, speed=30.0, events_per_day=300.0, lookbacks=(20, 5))


class ScaledClock:
    """trailsweep's Clock, `speed` times faster than real: its wall is the emulator's data
    clock (read once, then run on at the same speed), its monotonic time and sleeps are
    simulated seconds. It starts a little behind the emulator's clock (the read's
    round trip, the floor to a second), so a poll never asks for a future second."""

    def __init__(self, data_now: float, speed: float) -> None:
        self.speed = speed
        self.data0 = data_now
        self.t0 = time.monotonic()

    def monotonic(self) -> float:
        return time.monotonic() * self.speed

    def wall(self) -> float:
        return self.data0 + (time.monotonic() - self.t0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds) / self.speed)


def control_get(info: dict[str, Any], path: str) -> dict[str, Any]:
    """GET the emulator's control API (`info`: its ready line) from the follower's process."""
    headers = {"Authorization": f"Bearer {info['control_token']}"}
    with urllib.request.urlopen(urllib.request.Request(info["url"] + path, headers=headers)) as r:
        doc: dict[str, Any] = json.loads(r.read())
    return doc


# The follower's process ----------------------------------------------------------------
def follow_child(config_path: str) -> None:
    """Follow with the settings of `config_path` (JSON) for its minutes of data clock;
    write NDJSON to its "out" and what happened to its "result"."""
    from trailsweep import SweepSettings
    from trailsweep.api.follow import Follower
    from trailsweep.api.incremental import fresh_state

    cfg = json.loads(Path(config_path).read_text())
    info = cfg["info"]
    clock = ScaledClock(control_get(info, "/_emulator/clock")["now"], cfg["speed"])
    begun = int(clock.wall())
    settings = SweepSettings.build(
        accounts="org", regions=REGIONS, start_time=f"{CATCH_UP // 60}m", follow=True,
        lookback=f"{cfg['lookback']}m", poll_interval="30s", rate=2.0,
        now=datetime.fromtimestamp(begun, UTC), endpoint_url=info["url"],
        region=info["region"], access_key_id=info["access_key_id"],
        secret_access_key=info["secret_access_key"],
    )  # fmt: skip
    follower = Follower(settings, fresh_state(settings), clock=clock)
    ends: list[int] = []
    calls: list[int] = []
    throttled: list[int] = []

    with open(cfg["out"], "wb") as out:

        def write(data: bytes) -> None:
            out.write(data)

        async def main() -> None:
            async with anyio.create_task_group() as tg:

                def after(f: Follower) -> None:
                    assert f.last_end is not None
                    ends.append(f.last_end)
                    calls.append(f.report.calls)
                    throttled.append(f.report.throttled)
                    if f.last_end >= ends[0] + cfg["minutes"] * 60:
                        tg.cancel_scope.cancel()

                follower.on_poll = after
                tg.start_soon(follower.run, write, out.flush)

        before = resource.getrusage(resource.RUSAGE_SELF)
        anyio.run(main)
        used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = used.ru_utime + used.ru_stime - before.ru_utime - before.ru_stime
    done = {k: v for k, v in follower.as_dict().items() if k != "pair_lag"}
    Path(cfg["result"]).write_text(
        json.dumps(
            {
                **done,
                "begun": begun,
                "ends": ends,
                "poll_calls": calls,
                "poll_throttled": throttled,
                "run_cpu_s": cpu,
            }
        )
    )


# The parent: an emulator, a follower, the truth ------------------------------------------
def emulator_for(plan: Plan) -> Emulator:
    return Emulator(
        "--seed", str(SEED), "--now", NOW, "--clock-speed", str(plan.speed), "--lag",
        "--members", str(plan.accounts - 1), "--suspended", "0", "--regions", REGIONS,
        "--events-per-day", str(plan.events_per_day), "--skew", "100",
        "--rate", str(2.0 * plan.speed), "--burst", "2", "--credential-ttl", "86400",
    )  # fmt: skip


def run_follower(plan: Plan, lookback: int) -> dict[str, Any]:
    """One follower against a fresh emulator (same seed: the same events and delays): what
    it did, what it wrote by pair, the truth by pair."""
    emu = emulator_for(plan)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = {"info": emu.info, "speed": plan.speed, "lookback": lookback,
                   "minutes": plan.minutes, "out": f"{tmp}/out.ndjson",
                   "result": f"{tmp}/result.json"}  # fmt: skip
            Path(f"{tmp}/cfg.json").write_text(json.dumps(cfg))
            t0 = time.perf_counter()
            with open(f"{tmp}/stderr", "wb") as err:
                proc = subprocess.Popen(
                    [sys.executable, __file__, "--child", f"{tmp}/cfg.json"],
                    stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                )  # fmt: skip
                _, status, usage = os.wait4(proc.pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit("follower failed:\n" + Path(f"{tmp}/stderr").read_text()[-3000:])
            result: dict[str, Any] = json.loads(Path(cfg["result"]).read_text())
            written = written_ids(Path(cfg["out"]))
        result.update(
            wall_s=round(time.perf_counter() - t0, 1), written=written,
            cpu_s=usage.ru_utime + usage.ru_stime, rss_mb=round(usage.ru_maxrss / 1024, 1),
            stats=emu.get("/_emulator/stats"),
        )  # fmt: skip
        start, end = result["ends"][0] - CATCH_UP, result["ends"][-1]
        result["truth"] = {pair: truth_of(emu, pair, start, end) for pair in pairs_of(emu)}
        return result
    finally:
        emu.stop()


def pairs_of(emu: Emulator) -> list[str]:
    world = emu.get("/_emulator/world")
    return [f"{a['id']}/{r}" for a in world["accounts"] for r in world["regions"][a["id"]]]


def truth_of(emu: Emulator, pair: str, start: int, end: int) -> list[tuple[int, str, int]]:
    """(EventTime, EventId, arrival) of every event of `pair` in [start, end] that had
    happened by `end`, arrived or not, oldest first."""
    account, region = pair.split("/")
    doc = emu.get(
        f"/_emulator/truth?account={account}&region={region}&start={start}&end={end}"
        f"&as_of={end}&everything=1&arrivals=1"
    )
    events = zip(doc["Events"], doc["Arrivals"], strict=True)
    return sorted((int(e["EventTime"]), e["EventId"], int(t)) for e, t in events)


def written_ids(path: Path) -> dict[str, list[str]]:
    """EventIds of each line of the NDJSON at `path`, by pair, in the order written."""
    out: dict[str, list[str]] = {}
    with path.open("rb") as f:
        for line in f:
            doc = json.loads(line)
            out.setdefault(f"{doc['account']}/{doc['region']}", []).append(doc["EventId"])
    return out


# Counting from the truth -----------------------------------------------------------------
def missed_by_follower(run: dict[str, Any], arrived: int) -> dict[str, Any]:
    """Against the truth: events that had arrived by the last poll and were not written
    (missed), written twice, or written and not in the truth (each must be 0 but missed)."""
    end = run["ends"][-1]
    missed = twice = unknown = 0
    for pair, truth in run["truth"].items():
        got = run["written"].get(pair, [])
        ids = set(got)
        twice += len(got) - len(ids)
        unknown += len(ids - {i for _, i, _ in truth})
        missed += sum(1 for _, i, arrival in truth if arrival <= end and i not in ids)
    return {"missed": missed, "missed_share": round(missed / max(1, arrived), 4),
            "written_twice": twice, "not_in_truth": unknown}  # fmt: skip


def naive_poll(truth: list[tuple[int, str, int]], ends: list[int]) -> tuple[set[str], list[int]]:
    """The peers' poller on one pair, at the poll times `ends`: each poll asks from the
    newest EventTime it has seen (the first from the same catch-up window as ours), keeps
    what has arrived by then and it has not seen (deduped by EventId), and pages it all.
    Returns the EventIds it saw and its calls, poll by poll."""
    times = [t for t, _, _ in truth]
    cursor, seen, calls = ends[0] - CATCH_UP, set[str](), []
    for end in ends:
        shown = [e for e in truth[bisect_left(times, cursor) :] if e[0] <= end and e[2] <= end]
        calls.append(max(1, math.ceil(len(shown) / PAGE)))
        seen.update(i for _, i, _ in shown)
        if shown:
            cursor = max(cursor, max(t for t, _, _ in shown))
    return seen, calls


def naive_row(run: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """The naive poller over the same pairs and truth, at the poll times of `run`."""
    ends, end = run["ends"], run["ends"][-1]
    missed, calls = 0, [0] * len(ends)
    for truth in run["truth"].values():
        seen, pair_calls = naive_poll(truth, ends)
        calls = [a + b for a, b in zip(calls, pair_calls, strict=True)]
        missed += sum(1 for _, i, arrival in truth if arrival <= end and i not in seen)
    return {
        "client": "naive poller: StartTime = max(EventTime) seen", "pairs": ours["pairs"],
        "polls": ours["polls"], "arrived": ours["arrived"], "missed": missed,
        "missed_share": round(missed / max(1, ours["arrived"]), 4),
        **call_rates(calls, ends, ours["pairs"]),
    }  # fmt: skip


def call_rates(calls: list[int], ends: list[int], pairs: int) -> dict[str, Any]:
    """Calls per pair per simulated minute and the share of the quota (2 calls/s a pair)
    they use, once caught up: the polls after the first, over the time they covered."""
    minutes = (ends[-1] - ends[0]) / 60
    per_pair_min = sum(calls[1:]) / pairs / minutes
    return {"calls": sum(calls), "calls_catch_up": calls[0],
            "calls_pair_min": round(per_pair_min, 3),
            "quota_share": round(per_pair_min / 120.0, 4)}  # fmt: skip


def follower_row(run: dict[str, Any], lookback: int) -> dict[str, Any]:
    pairs = len(run["truth"])
    minutes = (run["ends"][-1] - run["begun"]) / 60
    calls, polls = run["stats"]["totals"]["calls"], run["polls"]
    idle = [p for p, truth in run["truth"].items() if not truth]
    per_pair = run["stats"]["pairs"]
    idle_calls = sorted({per_pair.get(p, {}).get("calls", 0) / polls for p in idle})
    arrived = sum(1 for t in run["truth"].values() for e in t if e[2] <= run["ends"][-1])
    lag = run["lag"]
    return {
        "client": f"trailsweep --follow --lookback {lookback}m",
        "pairs": pairs, "sim_minutes": round(minutes, 1), "polls": polls,
        "arrived": arrived, "events": run["events"], **missed_by_follower(run, arrived),
        **call_rates(run["poll_calls"], run["ends"], pairs),
        # Every LookupEvents call the emulator served, discovery and catch-up included.
        "calls_served": calls, "calls_pair_min_all": round(calls / pairs / minutes, 3),
        "throttled": run["stats"]["totals"]["throttled"],
        "throttled_pairs": sum(1 for p in per_pair.values() if p["throttled"]),
        "throttled_catch_up": run["poll_throttled"][0],  # the follower's count, first poll
        "polls_throttled": sum(1 for n in run["poll_throttled"] if n),
        "idle_pairs": len(idle), "idle_calls_per_poll": idle_calls,
        "lag_p50_s": lag["p50_seconds"], "lag_p99_s": lag["p99_seconds"],
        "lag_max_s": lag["max_seconds"],
        "cpu_s": round(run["cpu_s"], 2), "run_cpu_s": round(run["run_cpu_s"], 2),
        "cpu_us_per_event": round(run["run_cpu_s"] / max(1, run["events"]) * 1e6, 1),
        "cpu_us_per_call": round(run["run_cpu_s"] / max(1, calls) * 1e6, 1),
        # CPU seconds per second followed, had it run in real time: the share of a core.
        "core_share": round(run["run_cpu_s"] / (minutes * 60), 4),
        "rss_mb": run["rss_mb"], "wall_s": run["wall_s"],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 pairs for 10 minutes")
    parser.add_argument("--speed", type=float, help="data seconds per wall second")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        follow_child(args.child)
        return
    plan = QUICK if args.quick else FULL
    if args.speed:
        plan = replace(plan, speed=args.speed)
    rows = []
    for lookback in plan.lookbacks:
        run = run_follower(plan, lookback)
        rows.append(follower_row(run, lookback))
        if len(rows) == 1:  # the naive poller at the default follower's poll times
            rows.append(naive_row(run, rows[0]))
    short = ["client", "arrived", "events", "missed", "missed_share", "calls_pair_min",
             "quota_share", "throttled", "idle_calls_per_poll", "lag_p99_s", "lag_max_s",
             "cpu_us_per_event", "core_share", "rss_mb"]  # fmt: skip
    print(table(f"Following {rows[0]['pairs']} pairs for {plan.minutes} simulated minutes "
                "(lag on: AWS's stated times)",
                [{k: r.get(k, "") for k in short} for r in rows]))  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    result = {"plan": asdict(plan), "now": NOW, "seed": SEED, "rows": rows}
    (RESULTS / "follow.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
