"""Latency-bound pairs: how close a sweep comes to the quota when every page is slow.

    python benchmarks/latency.py [--quick] [--against DIR]

Real LookupEvents pages take hundreds of milliseconds to a second, so with the 2 calls/s
quota a pair needs two or three NextToken chains at once to use it (engine/slices.py).
Here every page takes 1 s plus up to 100 ms of jitter, at the real quota, for 12 pairs
(3 accounts x 4 regions) and for 100 (25 x 4), each pair holding about the same number of
pages. The figure is the span from the sweep's first call to its last, over the ideal:
the busiest pair's pages (its events over 50, counted in the output) at 2 calls/s. Also
the calls spent (split slices end on partial pages) and the throttled share.
With --against DIR, the same scenarios also run trailsweep from DIR/src, in the same run.
JSON goes to benchmarks/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sweep as common  # the Emulator and `run` of benchmarks/sweep.py

RATE = 2.0
PAGE = 50


def scenario(pairs: int, pages: int) -> list[dict[str, Any]]:
    per_day = pages * PAGE  # a 24-hour window holds about this many events per pair
    emu = common.Emulator(
        "--members", str(pairs // 4 - 1), "--suspended", "0", "--regions", common.REGIONS,
        "--events-per-day", str(per_day), "--skew", "1", "--rate", str(RATE),
        "--latency-ms", "1000", "--jitter-ms", "100",
    )  # fmt: skip
    rows = []
    try:
        for label, env in common.variants(emu.env()):
            emu.reset()
            out = Path(tempfile.mkdtemp()) / "out.ndjson"
            cmd = [*common.sweep_cmd(emu, 24, RATE), "--output", str(out)]
            result = common.run(cmd, env)
            per_pair = Counter(
                (doc["account"], doc["region"])
                for doc in map(orjson.loads, out.read_bytes().splitlines())
            )
            stats = emu.get("/_emulator/stats")
            calls = [p for p in stats["pairs"].values() if p["first_call"] is not None]
            first = min(p["first_call"] for p in calls)
            last = max(p["last_call"] for p in calls)
            busiest = max(math.ceil(n / PAGE) for n in per_pair.values())
            ideal = busiest / RATE
            total = stats["totals"]["calls"]
            rows.append({
                "pairs": pairs, "tree": label or "this", "events": sum(per_pair.values()),
                "busiest_pages": busiest, "ideal_s": round(ideal, 1),
                "span_s": round(last - first, 1), "span_vs_ideal": round((last - first) / ideal, 3),
                "calls": total, "calls_vs_pages": round(total / sum(
                    math.ceil(n / PAGE) for n in per_pair.values()), 3),
                "throttled_share": round(stats["totals"]["throttled"] / max(1, total), 4),
                "wall_s": result["wall_s"], "exit": result["exit"],
            })  # fmt: skip
            out.unlink()
    finally:
        emu.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pages per pair")
    parser.add_argument("--against", type=Path, help="also run trailsweep from DIR/src")
    parser.add_argument("--pairs", type=int, action="append", help="only these scales")
    args = parser.parse_args()
    common.AGAINST = args.against.resolve() if args.against else None
    pages = 10 if args.quick else 40
    rows: list[dict[str, Any]] = []
    for pairs in args.pairs or [12, 100]:
        rows += scenario(pairs, pages)
    print(common.table("Latency-bound pairs: 1 s pages (+0-100 ms), 2 calls/s", rows))
    common.RESULTS.mkdir(exist_ok=True)
    (common.RESULTS / "latency.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
