"""Many short pairs whose quota another caller shares: the throttles a user sees.

A pair cannot avoid its first throttle (nothing tells it the quota is shared until it is
throttled); what it does after that is the adaptation's doing. Each scenario sweeps
`--pairs` pairs of about `--pages` pages each while the emulator's "another caller" takes
0%, 50% and 90% of every pair's quota, and counts from the emulator's per-pair stats:
calls, throttles, and throttles beyond the first of each pair (count and share of
calls). `pace` is each pair's accepted calls per second between its first and last call
over what the other caller leaves it, averaged over pairs (1.0: it used all it could).

    python benchmarks/shared_quota.py [--quick] [--against DIR]

--against DIR also runs trailsweep from DIR/src (e.g. a worktree of main), labelled
"before", in the same run. JSON goes to benchmarks/results/shared_quota.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sweep as bench


def set_share(emu: bench.Emulator, share: float) -> None:
    req = urllib.request.Request(
        emu.info["url"] + "/_emulator/faults", method="POST",
        data=json.dumps({"other_caller_share": share}).encode(),
        headers={"Content-Type": "application/json", **emu.auth()},
    )  # fmt: skip
    urllib.request.urlopen(req, timeout=30).close()


def counts(emu: bench.Emulator, available: float) -> dict[str, Any]:
    """What the emulator saw, per pair summed: throttles beyond each pair's first."""
    pairs = emu.get("/_emulator/stats")["pairs"].values()
    calls = sum(p["calls"] for p in pairs)
    throttled = sum(p["throttled"] for p in pairs)
    beyond = sum(max(0, p["throttled"] - 1) for p in pairs)
    paces = [
        (p["calls"] - p["throttled"] - 1) / (p["last_call"] - p["first_call"]) / available
        for p in pairs
        if p["calls"] - p["throttled"] >= 3 and p["last_call"] > p["first_call"]
    ]
    return {
        "pairs": len(pairs),
        "calls": calls,
        "throttled": throttled,
        "throttled_pct": round(100 * throttled / calls, 2) if calls else 0.0,
        "beyond_first": beyond,
        "beyond_first_pct": round(100 * beyond / calls, 2) if calls else 0.0,
        "pairs_throttled": sum(1 for p in pairs if p["throttled"]),
        "most_in_a_pair": max((p["throttled"] for p in pairs), default=0),
        "pace": round(sum(paces) / len(paces), 3) if paces else 0.0,
    }


def scenarios(pairs: int, pages: int, latency: int, shares: list[float]) -> list[dict[str, Any]]:
    rows = []
    emu = bench.Emulator(
        "--members", str(max(0, pairs // 4 - 1)), "--suspended", "0", "--regions",
        bench.REGIONS, "--events-per-day", str(pages * 50), "--skew", "1",
        "--latency-ms", str(latency),
    )  # fmt: skip
    try:
        for share in shares:
            set_share(emu, share)
            for label, env in bench.variants(emu.env()):
                emu.reset()
                result = bench.run(bench.sweep_cmd(emu, 24, 2.0), env)
                row = {"taken": f"{share:.0%}", "tree": label or "after", **result,
                       **counts(emu, 2.0 * (1.0 - share))}  # fmt: skip
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
    finally:
        emu.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100, help="pairs (a multiple of 4)")
    parser.add_argument("--pages", type=int, default=6, help="mean pages per pair")
    parser.add_argument("--latency-ms", type=int, default=50, help="emulator latency a call")
    parser.add_argument("--share", type=float, action="append", help="quota taken (0..1)")
    parser.add_argument("--quick", action="store_true", help="40 pairs of 4 pages")
    parser.add_argument("--against", type=Path, help="also run trailsweep from DIR/src")
    args = parser.parse_args()
    bench.AGAINST = args.against.resolve() if args.against else None
    pairs, pages = (40, 4) if args.quick else (args.pairs, args.pages)
    shares = args.share or [0.0, 0.5, 0.9]
    rows = scenarios(pairs, pages, args.latency_ms, shares)
    title = f"Another caller takes part of the quota: {pairs} pairs, ~{pages} pages each"
    print(bench.table(title, rows))
    bench.RESULTS.mkdir(exist_ok=True)
    out = {"pairs": pairs, "pages": pages, "latency_ms": args.latency_ms, "rows": rows}
    (bench.RESULTS / "shared_quota.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
