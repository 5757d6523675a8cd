"""The client's CPU per event, against the plainest boto3 script, whole process and steady.

    python benchmarks/cpu.py [--quick] [--against DIR] [--rounds N]

Two tables, each measured in one run (these machines are noisy, so ratios are what
count), every client in its own process with its own CPU time (user + system, wait4):

- CPU-bound: one account, four regions, 24 hours of about 27,000 events a region a day,
  the quota lifted (--rate 100) so nothing waits. "whole" is the process's CPU over the
  events; "steady" subtracts the same client's fixed cost (interpreter, imports,
  discovery), measured on an empty window in the same run. Baseline: boto3's paginator
  and `json.dumps` per event (baselines/boto3_loop.py); the naive aioboto3 loop of
  benchmarks/sweep.py is shown too.
- Idle cost: the same client on one region's events (--quick: fewer) at the real quota,
  2 calls/s, against the same events with the quota lifted: what waiting costs (timers,
  wake-ups, progress, checkpoints), as a ratio of CPU per event.

Each figure is the median of `--rounds` runs (default 3), the rounds interleaved so a
busy moment of the machine hits every client alike. With --against DIR the trailsweep
rows also run from DIR/src (e.g. a `git archive` of main), labelled "before".
JSON goes to benchmarks/results/cpu.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sweep as common  # the Emulator, `run` and `variants` of benchmarks/sweep.py

HERE = Path(__file__).resolve().parent


def _ts(start: int, end: int, rate: str, regions: str) -> list[str]:
    return [sys.executable, "-m", "trailsweep", "sweep", "--regions", regions, "--rate", rate,
            "--no-progress", "--start-time", str(start), "--end-time", str(end)]  # fmt: skip


def _median_runs(jobs: list[tuple[str, list[str], dict[str, str]]], rounds: int) -> dict[str, Any]:
    """Each job `rounds` times, interleaved; per job its median CPU and the last run."""
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in jobs}
    last: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        for name, cmd, env in jobs:
            result = common.run(cmd, env)
            assert result["exit"] == 0, (name, result)
            cpu[name].append(result["cpu_s"])
            last[name] = result
    return {name: {**last[name], "cpu_s": round(statistics.median(cpu[name]), 3),
                   "cpu_runs": cpu[name]} for name in cpu}  # fmt: skip


def cpu_bound(quick: bool, rounds: int) -> list[dict[str, Any]]:
    per_day = 8000 if quick else 27411
    emu = common.Emulator("--members", "0", "--suspended", "0", "--regions", common.REGIONS,
                          "--events-per-day", str(per_day), "--skew", "1", "--rate", "100",
                          "--burst", "100")  # fmt: skip
    try:
        env = emu.env()
        start, end = emu.now - 86400, emu.now
        empty = emu.now - 89 * 86400
        regions = common.REGIONS.split(",")
        jobs = []
        for label, v_env in common.variants(env):
            name = f"trailsweep ({label})" if label else "trailsweep"
            jobs += [(name, _ts(start, end, "100", "all"), v_env),
                     (name + " empty", _ts(empty, empty, "100", "all"), v_env)]  # fmt: skip
        for name, script in (("boto3 paginator loop", "boto3_loop.py"),
                             ("naive aioboto3 loop", "naive_aioboto3.py")):  # fmt: skip
            cmd = [sys.executable, str(HERE / "baselines" / script)]
            jobs += [(name, [*cmd, str(start), str(end), *regions], env),
                     (name + " empty", [*cmd, str(empty), str(empty), *regions], env)]  # fmt: skip
        runs = _median_runs(jobs, rounds)
    finally:
        emu.stop()
    rows = []
    for name, result in runs.items():
        if name.endswith(" empty"):
            continue
        fixed = runs[name + " empty"]["cpu_s"]
        events = max(1, result["events"])
        rows.append({
            "client": name, "events": result["events"], "cpu_s": result["cpu_s"],
            "fixed_cpu_s": fixed, "rss_mb": result["rss_mb"],
            "whole_us_per_event": round(result["cpu_s"] / events * 1e6, 1),
            "steady_us_per_event": round((result["cpu_s"] - fixed) / events * 1e6, 1),
        })  # fmt: skip
    base = next(r for r in rows if r["client"] == "boto3 paginator loop")
    for r in rows:
        r["whole_vs_boto3"] = round(r["whole_us_per_event"] / base["whole_us_per_event"], 3)
        r["steady_vs_boto3"] = round(r["steady_us_per_event"] / base["steady_us_per_event"], 3)
    return rows


def idle_cost(quick: bool, rounds: int) -> list[dict[str, Any]]:
    """One region's events at 2 calls/s against the same events with the quota lifted."""
    per_day = 6000 if quick else 20000
    emu = common.Emulator("--members", "0", "--suspended", "0", "--regions", "us-east-1",
                          "--events-per-day", str(per_day), "--skew", "1", "--rate", "100",
                          "--burst", "100")  # fmt: skip
    try:
        start, end = emu.now - 86400, emu.now
        jobs = []
        for label, v_env in common.variants(emu.env()):
            name = f"trailsweep ({label})" if label else "trailsweep"
            jobs += [(name + " 100/s", _ts(start, end, "100", "us-east-1"), v_env),
                     (name + " 2/s", _ts(start, end, "2", "us-east-1"), v_env)]  # fmt: skip
        runs = _median_runs(jobs, max(1, rounds - 1))
    finally:
        emu.stop()
    rows = []
    for name in dict.fromkeys(n.rsplit(" ", 1)[0] for n in runs):
        fast, slow = runs[name + " 100/s"], runs[name + " 2/s"]
        events = max(1, fast["events"])
        rows.append({
            "client": name, "events": events, "wall_2_s": slow["wall_s"],
            "cpu_100_s": fast["cpu_s"], "cpu_2_s": slow["cpu_s"],
            "idle_vs_cpu_bound": round(slow["cpu_s"] / fast["cpu_s"], 3),
        })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events")
    parser.add_argument("--against", type=Path, help="also run trailsweep from DIR/src")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--only", choices=["bound", "idle"], action="append")
    args = parser.parse_args()
    common.AGAINST = args.against.resolve() if args.against else None
    wanted = set(args.only or ["bound", "idle"])
    path = common.RESULTS / "cpu.json"
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if "bound" in wanted:
        results["cpu_bound"] = cpu_bound(args.quick, args.rounds)
        print(common.table("CPU per event, quota lifted (median of rounds)", results["cpu_bound"]))
    if "idle" in wanted:
        results["idle"] = idle_cost(args.quick, args.rounds)
        print(common.table("Idle cost: 2 calls/s against the quota lifted", results["idle"]))
    common.RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
