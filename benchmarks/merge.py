"""`trailsweep merge` of 8 shard outputs: lines per second on one core, and peak RSS flat
in the parts' size.

    python benchmarks/merge.py [--quick]

The lines are the emulator's: one sweep of it gives a pool of real NDJSON lines (1-2 KB,
a whole CloudTrail record each); the parts are built from that pool in the exact line
format, each line's start (account, region, EventTime, EventId) rewritten so that the 8
parts are the shards (settings.shards.assign) of one sorted stream of 48 pairs, at 40
events a second overall (so seconds hold several events, pairs tie and interleave). The
8 parts are written twice: 1x and 4x the lines.

Measured, each in its own process (its CPU time, user + system, and peak RSS from
wait4): `trailsweep merge` as a whole command to stdout (/dev/null) and to `-o FILE`
(written, fsynced, renamed: what a user runs; its output is checked against the sha256
of the stream the parts were cut from), and `merge_files` alone in a process that only
imports and calls it (to /dev/null; "in call" times the call alone, without the start).
The command's figures include its start (about 0.3 s of CPU: the CLI imports the whole
sweep stack). lines/s is given per wall second and per CPU second: on a shared machine
the second is the one that says what one core does.
JSON goes to benchmarks/results/merge.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sweep import RESULTS, table  # noqa: E402

PARTS = 8
RATE = 40  # events a second over all pairs
ACCOUNTS = [f"{100000000000 + 7919 * k:012d}" for k in range(12)]
REGIONS = ["us-east-1", "eu-west-1", "ap-south-1", "us-west-2"]
T0 = 1_800_000_000


@dataclass(frozen=True)
class Plan:
    lines: int  # per part at 1x
    scales: tuple[int, ...]
    repeats: int


FULL = Plan(lines=40_000, scales=(1, 4), repeats=3)
QUICK = Plan(lines=5_000, scales=(1, 4), repeats=1)


def line_pool(directory: Path) -> list[bytes]:
    """The rest of each line after its EventId (`,"EventName":...}`), from one sweep of the
    emulator: the bodies the synthesized lines carry. The sweep runs in a child process:
    a child's peak RSS (ru_maxrss) starts from its parent's at fork, so the processes
    measured later must be forked from a small one."""
    out = directory / "pool.ndjson"
    subprocess.run([sys.executable, __file__, "--pool", str(out)], check=True)
    pool = []
    for line in out.read_bytes().splitlines(keepends=True):
        at = line.index(b'"EventName"')
        pool.append(line[at - 1 :])  # from the comma before EventName
    out.unlink()
    return pool


def sweep_pool(out: Path) -> None:
    """One sweep of the emulator into `out` (the child of `line_pool`)."""
    import trailsweep
    from trailsweep.emulator import EmulatorSettings, EmulatorThread, Faults

    emu_settings = EmulatorSettings(
        members=2, suspended=0, regions=("us-east-1", "eu-west-1"), events_per_day=3000.0,
        seed=5, faults=Faults(rate=10_000.0, burst=10_000.0),
    )  # fmt: skip
    with EmulatorThread(emu_settings) as emu:
        info = emu.emulator.ready_info()
        settings = trailsweep.SweepSettings.build(
            accounts="org", regions="all", start_time="6h", endpoint_url=info["url"],
            region=info["region"], rate=100.0, access_key_id=info["access_key_id"],
            secret_access_key=info["secret_access_key"],
        )  # fmt: skip
        anyio.run(trailsweep.export, settings, out)


def write_parts(directory: Path, per_part: int, pool: list[bytes]) -> tuple[list[str], str]:
    """8 parts, the shards of one sorted stream of 8 x `per_part` lines; their paths and
    the sha256 of the stream (what the merge must write)."""
    from trailsweep.settings.shards import assign

    pairs = [(a, r) for a in ACCOUNTS for r in REGIONS]
    shard = assign(pairs, PARTS)
    files = [(directory / f"part-{i}.ndjson").open("wb") for i in range(PARTS)]
    digest = hashlib.sha256()
    total, n = PARTS * per_part, 0
    while n < total:
        second = T0 - n // RATE
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)).encode()
        group = []
        for k in range(min(RATE, total - n)):
            account, region = pairs[(n + k) * 7 % len(pairs)]
            body = pool[(n + k) % len(pool)]
            group.append((account, region, n + k, body))
        group.sort(key=lambda g: (g[0], g[1]))  # stable: a pair's lines keep their order
        for account, region, serial, body in group:
            line = (
                b'{"account":"' + account.encode() + b'","region":"' + region.encode()
                + b'","EventTime":"' + stamp + b'","EventId":"'
                + f"{serial:08x}-0000-4000-8000-000000000000".encode() + b'"' + body
            )  # fmt: skip
            files[shard[account, region]].write(line)
            digest.update(line)
        n += len(group)
    for f in files:
        f.close()
    return [f.name for f in files], digest.hexdigest()


_LIBRARY = """
import sys, time, trailsweep
out = open("/dev/null", "wb")
t0 = time.perf_counter()
report = trailsweep.merge_files(sys.argv[1:], stdout=out)
print(report.lines, time.perf_counter() - t0)
"""


def measure(cmd: list[str], out: Path | None, *, keep: bool = True) -> dict[str, Any]:
    """Run `cmd` to completion: wall time, its own CPU time and peak RSS, and the sha256 of
    what it wrote (stdout, or `out`); without `keep`, stdout goes to /dev/null (the
    merge's own cost, without a file system's)."""
    with tempfile.TemporaryFile() as captured:
        t0 = time.perf_counter()
        sink = captured if keep else subprocess.DEVNULL
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{cmd[:4]} failed: {err.decode()}")
        digest = hashlib.sha256()
        source = out.open("rb") if out is not None else captured
        source.seek(0)
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
        if out is not None:
            source.close()
            out.unlink()
        else:
            captured.seek(0)
            first = captured.readline().split()
    return {
        "wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
        "sha256": digest.hexdigest(), "inner": first if out is None else None,
    }  # fmt: skip


def rows_for(directory: Path, scale: int, plan: Plan, pool: list[bytes]) -> list[dict[str, Any]]:
    parts, want = write_parts(directory, plan.lines * scale, pool)
    lines = PARTS * plan.lines * scale
    size = sum(Path(p).stat().st_size for p in parts)
    out = directory / "merged.ndjson"
    runs = {
        "command > /dev/null": ([sys.executable, "-m", "trailsweep", "merge", *parts], None),
        "command, -o FILE": (
            [sys.executable, "-m", "trailsweep", "merge", *parts, "-o", str(out)],
            out,
        ),
        "merge_files": ([sys.executable, "-c", _LIBRARY, *parts], None),
    }
    rows = []
    for name, (cmd, target) in runs.items():
        best: dict[str, Any] | None = None
        for _ in range(plan.repeats):
            got = measure(cmd, target, keep=name != "command > /dev/null")
            if target is not None and got["sha256"] != want:
                raise SystemExit(f"{name}: the merge is not the parts' stream")
            if best is None or got["cpu"] < best["cpu"]:
                best = got
        assert best is not None
        row = {
            "run": name, "parts": f"{PARTS} x {plan.lines * scale:,}", "lines": lines,
            "MB": round(size / 1e6), "wall_s": round(best["wall"], 2),
            "cpu_s": round(best["cpu"], 2), "lines/s (wall)": round(lines / best["wall"]),
            "lines/s (cpu)": round(lines / best["cpu"]), "peak_rss_mb": round(best["rss_mb"], 1),
        }  # fmt: skip
        inner = float(best["inner"][1]) if name == "merge_files" and best["inner"] else None
        row["lines/s (in call)"] = round(lines / inner) if inner else ""
        rows.append(row)
    for p in parts:
        Path(p).unlink()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller parts, one run each")
    parser.add_argument("--pool", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pool is not None:
        sweep_pool(args.pool)
        return
    plan = QUICK if args.quick else FULL
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        pool = line_pool(directory)
        mean = sum(map(len, pool)) / len(pool)
        for scale in plan.scales:
            rows += rows_for(directory, scale, plan, pool)
    print(table(f"merge of {PARTS} parts (lines of {mean:.0f} bytes on average)", rows))
    RESULTS.mkdir(exist_ok=True)
    document = {"plan": plan.__dict__, "mean_line_bytes": round(mean), "rows": rows}
    (RESULTS / "merge.json").write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
