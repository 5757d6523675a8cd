"""Past one core: `--workers`, the real quota at 1,000 pairs, and `trailsweep merge`.

    python benchmarks/scale.py [--quick]

1. CPU-bound (quota lifted, uniform pairs, the emulator warmed so that it serves pages
   from its cache): events per second with `--workers 1` and `--workers 2`, whole
   process and steady state (each run's fixed cost, measured on an empty window with
   the same workers, subtracted), and the client CPU per event of each. The emulator runs
   on the same machine: its CPU share is reported beside, since on a 2-core machine
   every cycle it spends is one the workers do not get.
2. 1,000 pairs at their quota (scaled to 0.1 calls/s, as in benchmarks/sweep.py): calls
   per second of each pair over the quota, and throttled calls, one process and two.
3. `trailsweep merge` of 8 parts: lines per second and peak RSS, at two part sizes
   (benchmarks/merge.py).

JSON goes to benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sweep import REGIONS, RESULTS, Emulator, run, table, utilization  # noqa: E402


def emulator_cpu(emu: Emulator) -> float:
    fields = Path(f"/proc/{emu.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sweep(emu: Emulator, start: int, end: int, rate: float, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "trailsweep", "sweep", "--accounts", "org", "--regions", "all",
        "--start-time", str(start), "--end-time", str(end), "--rate", str(rate),
        "--no-progress", *extra,
    ]  # fmt: skip


def cpu_bound(quick: bool) -> list[dict[str, Any]]:
    """Workers 1 and 2 over the same warm data, quota lifted."""
    # Many pairs of a few pages each, so that the pairs' chains together keep a core busy
    # (with few pairs the sweep waits on each pair's pages in turn, not on the CPU); in
    # all under the 60,000 events the emulator keeps rendered, so it serves them warm.
    accounts = 16 if quick else 32
    per_day = 380
    emu = Emulator(
        "--members", str(accounts - 1), "--suspended", "0", "--regions", REGIONS,
        "--events-per-day", str(per_day), "--skew", "1", "--rate", "1000000",
        "--burst", "1000000",
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    try:
        env = emu.env()
        start, end = emu.now - 86400, emu.now
        empty = emu.now - 89 * 86400
        run(sweep(emu, start, end, 100), env)  # warm the emulator's cache
        for workers in ("1", "2"):
            extra = ("--workers", workers)
            fixed = run(sweep(emu, empty, empty, 100, *extra), env)
            before = emulator_cpu(emu)
            result = run(sweep(emu, start, end, 100, *extra), env)
            served = emulator_cpu(emu) - before
            events = max(1, result["events"])
            steady_wall = max(0.01, result["wall_s"] - fixed["wall_s"])
            rows.append({
                "workers": int(workers), **result, "fixed_wall_s": fixed["wall_s"],
                "fixed_cpu_s": fixed["cpu_s"],
                "events_per_s": round(events / result["wall_s"]),
                "steady_events_per_s": round(events / steady_wall),
                "cpu_us_per_event": round((result["cpu_s"] - fixed["cpu_s"]) / events * 1e6, 1),
                "emulator_cpu_s": round(served, 2),
                "emulator_cpu_share": round(served / result["wall_s"], 2),
            })  # fmt: skip
        one = rows[0]
        for row in rows:
            row["speedup"] = round(row["events_per_s"] / one["events_per_s"], 2)
            row["steady_speedup"] = round(
                row["steady_events_per_s"] / one["steady_events_per_s"], 2
            )
    finally:
        emu.stop()
    return rows


def real_quota(quick: bool) -> list[dict[str, Any]]:
    """1,000 pairs at their quota, one process and two: the quota used and throttles.

    As in benchmarks/sweep.py's 1,000-pair row, the quota is scaled down, here to 0.1
    calls/s a pair: at 2 calls/s 1,000 pairs ask for 2,000 pages a second, and at 0.25
    (tried) 250 pages a second of cold rendering, more than this machine serves beside
    the client (calls took 11 s: the emulator's delay would be measured instead of the
    client's pacing). Each pair has 3 to 4 pages (utilization counts pairs of 3 calls
    or more)."""
    pairs = 200 if quick else 1000
    rate = 0.1
    emu = Emulator(
        "--members", str(pairs // 4 - 1), "--suspended", "0", "--regions", REGIONS,
        "--events-per-day", "170", "--skew", "1", "--rate", str(rate), "--latency-ms", "50",
    )  # fmt: skip
    rows = []
    try:
        env = emu.env()
        for workers in ("1", "2"):
            emu.reset()
            cmd = sweep(emu, emu.now - 86400, emu.now, rate, "--workers", workers)
            result = run(cmd, env)
            rows.append({"pairs": pairs, "quota": rate, "workers": int(workers), **result,
                         **utilization(emu, rate)})  # fmt: skip
    finally:
        emu.stop()
    return rows


def merge_rows(quick: bool) -> list[dict[str, Any]]:
    """benchmarks/merge.py, run as it is (its own results/merge.json), its rows taken."""
    cmd = [sys.executable, str(HERE / "merge.py"), *(["--quick"] if quick else [])]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    rows: list[dict[str, Any]] = json.loads((RESULTS / "merge.json").read_text())["rows"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, a minute or two")
    parser.add_argument("--only", choices=("cpu", "quota", "merge"), action="append")
    args = parser.parse_args()
    only = set(args.only or ("cpu", "quota", "merge"))
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results: dict[str, Any] = {"quick": args.quick, "cores": os.cpu_count(), "when": when}
    if "cpu" in only:
        results["cpu_bound"] = cpu_bound(args.quick)
        print(table("CPU-bound, quota lifted: --workers 1 and 2", results["cpu_bound"]))
    if "quota" in only:
        results["real_quota"] = real_quota(args.quick)
        print(table("Pairs at their quota (0.1 calls/s a pair)", results["real_quota"]))
    if "merge" in only:
        results["merge"] = merge_rows(args.quick)
        print(table("trailsweep merge of 8 parts", results["merge"]))
    # --only keeps the other parts' figures of an earlier run (each part says when).
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "scale.json"
    kept = json.loads(path.read_text()) if path.exists() and args.only else {}
    for part in ("cpu_bound", "real_quota", "merge"):
        if part in results:
            results[f"{part}_when"] = when
    path.write_text(json.dumps({**kept, **results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
