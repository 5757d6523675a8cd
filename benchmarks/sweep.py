"""trailsweep against its own promises and against the alternatives, on the emulator.

Everything is measured in one run and reported as ratios, because these machines are
noisy. The emulator runs in its own process; each client is its own process too, so its
CPU time (user + system, from wait4) and peak RSS are its own.

    python benchmarks/sweep.py [--quick]

Tables: quota utilization and throttled share at 10, 100 and 1,000 pairs with 50 ms and
1 s page latency; client CPU per event and peak RSS; skewed pairs ordered vs --unordered;
side by side with a naive aioboto3 loop and the AWS CLI over the same data and quota.
JSON goes to benchmarks/results/sweep.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REGIONS = "us-east-1,us-west-2,eu-west-1,ap-southeast-1"
AWS_CLI = os.environ.get("TRAILSWEEP_AWS_CLI") or str(HERE.parent / ".compat-venv/bin/aws")
# --against DIR: also run trailsweep from another source tree (DIR/src, e.g. a `git archive`
# of main), each scenario side by side in the same run, labelled "before".
AGAINST: Path | None = None


def variants(env: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """("", env) and, with --against, ("before", env running the other tree)."""
    out = [("", env)]
    if AGAINST is not None:
        out.insert(0, ("before", {**env, "PYTHONPATH": str(AGAINST / "src")}))
    return out


class Emulator:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trailsweep", "emulator", "--port", "0", *args],
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        self.info = json.loads(self.proc.stdout.readline())
        world = self.get("/_emulator/world")
        self.now = int(world["now"])

    def get(self, path: str) -> Any:
        req = urllib.request.Request(self.info["url"] + path, headers=self.auth())
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def reset(self) -> None:
        req = urllib.request.Request(
            self.info["url"] + "/_emulator/stats/reset", method="POST", headers=self.auth()
        )
        urllib.request.urlopen(req, timeout=30).close()

    def auth(self) -> dict[str, str]:
        """The control API's header, from the ready line's control_token."""
        return {"Authorization": f"Bearer {self.info['control_token']}"}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.info["url"], AWS_ACCESS_KEY_ID=self.info["access_key_id"],
            AWS_SECRET_ACCESS_KEY=self.info["secret_access_key"],
            AWS_DEFAULT_REGION=self.info["region"], AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true",
        )  # fmt: skip
        return env

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a client to completion: wall time, its own CPU time and peak RSS, lines out.

    The output is counted in chunks, never read whole: a child's peak RSS (ru_maxrss)
    starts from its parent's RSS at fork, so a benchmark process that once held a 200 MB
    output would report that as the next client's peak."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        if out.read(2) in (b"{\n", b"{\r"):  # the AWS CLI prints one JSON document
            out.seek(0)
            lines = len(json.loads(out.read())["Events"])
        else:  # everyone else NDJSON
            out.seek(0)
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: out.read(1 << 20), b""))
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "rss_mb": round(usage.ru_maxrss / 1024, 1),
        "events": lines,
        "exit": os.waitstatus_to_exitcode(status),
    }


def utilization(emu: Emulator, rate: float) -> dict[str, float]:
    """Per pair: calls per second between its first and last call, over the quota."""
    stats = emu.get("/_emulator/stats")
    shares = []
    for pair in stats["pairs"].values():
        if pair["calls"] >= 3 and pair["last_call"] > pair["first_call"]:
            shares.append((pair["calls"] - 1) / (pair["last_call"] - pair["first_call"]) / rate)
    calls = stats["totals"]["calls"]
    busiest = max((p["calls"] for p in stats["pairs"].values()), default=0)
    return {
        "utilization": round(sum(shares) / len(shares), 3) if shares else 0.0,
        # The fastest any client could finish: the busiest pair's calls at the quota.
        "ideal_s": round(busiest / rate, 1),
        "throttled_share": round(stats["totals"]["throttled"] / calls, 4) if calls else 0.0,
        "calls": calls,
    }


def sweep_cmd(emu: Emulator, hours: float, rate: float, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "trailsweep", "sweep", "--accounts", "org", "--regions", "all",
        "--start-time", str(emu.now - int(hours * 3600)), "--end-time", str(emu.now),
        "--rate", str(rate), "--no-progress", *extra,
    ]  # fmt: skip


def quota_scenarios(quick: bool, only: list[int] | None = None) -> list[dict[str, Any]]:
    rows = []
    # Pages per pair: enough that the first second of each pair (one call, before any
    # latency is known) and its last page do not dominate the ratio.
    pages = 5 if quick else 30
    for pairs, rate in ((10, 2.0), (100, 2.0), (1000, 0.25)):
        if only and pairs not in only:
            continue
        per_pair_pages = pages if pairs < 1000 else max(2, pages // 6)
        per_day = per_pair_pages * 50  # a 24-hour window holds about this many pages
        for latency in (50, 1000):
            emu = Emulator(
                "--members", str(pairs // 4 - 1), "--suspended", "0", "--regions", REGIONS,
                "--events-per-day", str(per_day), "--skew", "1", "--rate", str(rate),
                "--latency-ms", str(latency),
            )  # fmt: skip
            # At 1 s a page, the same sweep with one NextToken chain per pair, for comparison.
            modes = ["slices", "--no-slices"] if latency >= 1000 else ["slices"]
            try:
                for mode in modes:
                    for label, env in variants(emu.env()):
                        emu.reset()
                        extra = [mode] if mode.startswith("--") else []
                        result = run(sweep_cmd(emu, 24, rate, *extra), env)
                        row = {"pairs": pairs, "quota": rate, "latency_ms": latency,
                               "mode": f"{mode} {label}".strip(), **result,
                               **utilization(emu, rate)}  # fmt: skip
                        row["wall_vs_ideal"] = round(row["wall_s"] / max(0.1, row["ideal_s"]), 2)
                        rows.append(row)
            finally:
                emu.stop()
    return rows


def cpu_rows(quick: bool) -> list[dict[str, Any]]:
    """Client CPU per event, lean path against aioboto3's client path and the naive loop.
    Each client's fixed cost (interpreter start, imports, discovery) is measured on an empty
    window in the same run and subtracted, so the figure is per event end to end: fetch,
    parse, merge, NDJSON write."""
    per_day = 4000 if quick else 12000
    emu = Emulator("--members", "0", "--suspended", "0", "--regions", REGIONS, "--events-per-day",
                   str(per_day), "--skew", "1", "--rate", "100", "--burst", "100")  # fmt: skip
    rows = []
    try:
        env = emu.env()

        def clients(start: int, end: int) -> dict[str, list[str]]:
            window = ["--start-time", str(start), "--end-time", str(end)]
            ts = [sys.executable, "-m", "trailsweep", "sweep", "--regions", "all", "--rate",
                  "100", "--no-progress", *window]  # fmt: skip
            return {
                "trailsweep": ts,
                "trailsweep --no-lean": [*ts, "--no-lean"],
                "naive aioboto3 loop": [sys.executable, str(HERE / "baselines/naive_aioboto3.py"),
                                        str(start), str(end), *REGIONS.split(",")],
            }  # fmt: skip

        empty = clients(emu.now - 89 * 86400, emu.now - 89 * 86400)
        full = clients(emu.now - 86400, emu.now)
        runs = []
        for name, cmd in full.items():
            both = variants(env) if name.startswith("trailsweep") else [("", env)]
            for label, v_env in both:
                runs.append((f"{name} ({label})" if label else name, cmd, empty[name], v_env))
        for name, cmd, empty_cmd, run_env in runs:
            fixed = run(empty_cmd, run_env)
            result = run(cmd, run_env)
            per_event = (result["cpu_s"] - fixed["cpu_s"]) / max(1, result["events"]) * 1e6
            rows.append({"client": name, **result, "fixed_cpu_s": fixed["cpu_s"],
                         "cpu_us_per_event": round(per_event, 1)})  # fmt: skip
    finally:
        emu.stop()
    return rows


def skew_rows(quick: bool) -> list[dict[str, Any]]:
    emu = Emulator("--members", "4", "--suspended", "0", "--regions", REGIONS,
                   "--events-per-day", "60" if quick else "150", "--skew", "100",
                   "--latency-ms", "50")  # fmt: skip
    rows = []
    try:
        for mode in ("--ordered", "--unordered"):
            rows.append({"mode": mode, **run(sweep_cmd(emu, 24, 2.0, mode), emu.env())})
    finally:
        emu.stop()
    return rows


def side_by_side(quick: bool) -> list[dict[str, Any]]:
    """One account, four regions, the real quota: what a user waits for with each tool."""
    emu = Emulator("--members", "0", "--suspended", "0", "--regions", REGIONS, "--skew", "1",
                   "--events-per-day", "150" if quick else "400", "--latency-ms", "50")  # fmt: skip
    rows = []
    try:
        env, start, end = emu.env(), emu.now - 86400, emu.now
        clients: dict[str, list[list[str]]] = {
            "trailsweep": [sweep_cmd(emu, 24, 2.0)],
            "naive aioboto3 loop": [[sys.executable, str(HERE / "baselines/naive_aioboto3.py"),
                                     str(start), str(end), *REGIONS.split(",")]],
        }  # fmt: skip
        if Path(AWS_CLI).exists() or shutil.which(AWS_CLI):
            clients["AWS CLI, region by region"] = [
                [AWS_CLI, "cloudtrail", "lookup-events", "--region", r, "--start-time",
                 str(start), "--end-time", str(end), "--output", "json"]
                for r in REGIONS.split(",")
            ]  # fmt: skip
        for name, cmds in clients.items():
            emu.reset()
            total = {"wall_s": 0.0, "cpu_s": 0.0, "events": 0, "exit": 0}
            for cmd in cmds:
                r = run(cmd, env)
                total = {k: round(total[k] + r[k], 3) for k in total}
            stats = emu.get("/_emulator/stats")["totals"]
            rows.append({"client": name, **total, "calls": stats["calls"],
                         "throttled": stats["throttled"]})  # fmt: skip
    finally:
        emu.stop()
    base = next(r for r in rows if r["client"] == "trailsweep")
    for r in rows:
        r["wall_vs_trailsweep"] = round(r["wall_s"] / base["wall_s"], 2)
    return rows


def table(title: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    out = [f"\n### {title}\n", "| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    out += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pages per pair")
    parser.add_argument("--only", choices=["quota", "cpu", "skew", "side"], action="append")
    parser.add_argument("--pairs", type=int, action="append", help="quota: only these scales")
    parser.add_argument("--against", type=Path, help="also run trailsweep from DIR/src")
    args = parser.parse_args()
    global AGAINST
    AGAINST = args.against.resolve() if args.against else None
    wanted = set(args.only or ["quota", "cpu", "skew", "side"])
    results: dict[str, Any] = {}
    if "cpu" in wanted:
        results["cpu"] = cpu_rows(args.quick)
        naive = next(r for r in results["cpu"] if r["client"] == "naive aioboto3 loop")
        for r in results["cpu"]:
            r["cpu_vs_naive"] = round(r["cpu_us_per_event"] / naive["cpu_us_per_event"], 3)
        print(table("Client CPU per event (same data, same run)", results["cpu"]))
    if "quota" in wanted:
        results["quota"] = quota_scenarios(args.quick, args.pairs)
        print(table("Quota utilization", results["quota"]))
    if "skew" in wanted:
        results["skew"] = skew_rows(args.quick)
        ordered, unordered = results["skew"]
        ordered["wall_vs_unordered"] = round(ordered["wall_s"] / unordered["wall_s"], 3)
        print(table("Skewed pairs (100x): ordered vs --unordered", results["skew"]))
    if "side" in wanted:
        results["side"] = side_by_side(args.quick)
        print(table("Side by side: one account, four regions, 2 calls/s", results["side"]))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sweep.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
