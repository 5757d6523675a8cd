"""Throughput of a sweep to a file (--output, checkpointed) against the same sweep from
another source tree, in one run.

    python benchmarks/file_sink.py [--against DIR] [--repeat N]

The emulator runs in its own process (one account, four regions, quota far above the
client); each client is its own process. Each row is the best of N runs: client CPU per
event (the fixed cost of an empty window, measured in the same run, subtracted) and wall
time. JSON goes to benchmarks/results/file_sink.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sweep import REGIONS, RESULTS, Emulator, table  # noqa: E402


def run_to_file(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.ndjson"
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [*cmd, "--output", str(out)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{' '.join(cmd)}: {err.decode()}")
        lines = out.read_bytes().count(b"\n") if out.exists() else 0
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "events": lines,
        "exit": os.waitstatus_to_exitcode(status),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="also run trailsweep from DIR/src")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=8000)
    args = parser.parse_args()
    emu = Emulator("--members", "0", "--suspended", "0", "--regions", REGIONS,
                   "--events-per-day", str(args.per_day), "--skew", "1", "--rate", "1000",
                   "--burst", "1000")  # fmt: skip
    trees = [("this tree", emu.env())]
    if args.against is not None:
        before = str(args.against.resolve() / "src")
        trees.insert(0, ("before", {**emu.env(), "PYTHONPATH": before}))
    rows = []
    try:

        def cmd(start: int, end: int) -> list[str]:
            return [sys.executable, "-m", "trailsweep", "sweep", "--regions", "all",
                    "--rate", "100", "--no-progress",
                    "--start-time", str(start), "--end-time", str(end)]  # fmt: skip

        for label, env in trees:
            best: dict[str, Any] | None = None
            for _ in range(args.repeat):
                fixed = run_to_file(cmd(emu.now - 89 * 86400, emu.now - 89 * 86400), env)
                result = run_to_file(cmd(emu.now - 86400, emu.now), env)
                per_event = (result["cpu_s"] - fixed["cpu_s"]) / max(1, result["events"]) * 1e6
                row = {"tree": label, **result, "fixed_cpu_s": fixed["cpu_s"],
                       "cpu_us_per_event": round(per_event, 1)}  # fmt: skip
                if best is None or row["cpu_us_per_event"] < best["cpu_us_per_event"]:
                    best = row
            assert best is not None
            rows.append(best)
    finally:
        emu.stop()
    if len(rows) == 2:
        ratio = rows[1]["cpu_us_per_event"] / rows[0]["cpu_us_per_event"]
        rows[1]["cpu_vs_before"] = round(ratio, 3)
    print(table("Sweep to a file (--output), best of each", rows))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "file_sink.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
