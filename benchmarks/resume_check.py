"""What the output's sha256 costs: while writing (per event) and when a resume checks the
output against its checkpoint (export_guard.check_output), on a file of --mb megabytes.

    python benchmarks/resume_check.py [--mb 1024] [--repeat 3]

Real lines come from a sweep of an emulator (one account, four regions, one day); the
file is those lines repeated up to --mb. Each row is the best of --repeat runs over the
file in the page cache (a cold cache adds the disk's read time). The baseline, measured
in the same run: reading the file alone. JSON goes to benchmarks/results/resume_check.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sweep import REGIONS, RESULTS, Emulator, table  # noqa: E402
from trailsweep.engine.pair import Cursor, PairState  # noqa: E402
from trailsweep.output.checkpoint import Checkpoint  # noqa: E402
from trailsweep.output.export_guard import check_output  # noqa: E402

_CHUNK = 8 << 20


def sample_lines(per_day: int) -> bytes:
    """One day of a sweep's NDJSON, from an emulator."""
    emu = Emulator(
        "--members", "0", "--suspended", "0", "--regions", REGIONS,
        "--events-per-day", str(per_day), "--rate", "1000", "--burst", "1000",
    )  # fmt: skip
    try:
        cmd = [
            sys.executable, "-m", "trailsweep", "sweep", "--regions", "all", "--rate", "100",
            "--no-progress", "--start-time", str(emu.now - 86400), "--end-time", str(emu.now),
        ]  # fmt: skip
        done = subprocess.run(cmd, env=emu.env(), capture_output=True, check=True)
        return done.stdout
    finally:
        emu.stop()


def build(path: Path, lines: bytes, mb: int) -> tuple[int, Counter[tuple[str, str]]]:
    """Write `lines` over and over up to `mb` MB; the lines per (account, region)."""
    per_copy: Counter[tuple[str, str]] = Counter()
    for line in lines.splitlines():
        doc = json.loads(line)
        per_copy[doc["account"], doc["region"]] += 1
    copies = max(1, (mb << 20) // len(lines))
    with path.open("wb") as f:
        for _ in range(copies):
            f.write(lines)
    return copies, Counter({k: v * copies for k, v in per_copy.items()})


def best(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def read_all(path: Path, hashed: bool) -> None:
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as f:
        while data := f.read(_CHUNK):
            if hashed:
                digest.update(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=8000)
    args = parser.parse_args()
    lines = sample_lines(args.per_day)
    events = lines.count(b"\n")
    write_hash = best(5, lambda: hashlib.sha256(lines).digest())
    rows: list[dict[str, Any]] = [
        {"step": "sha256 while writing", "bytes": len(lines), "seconds": round(write_hash, 4),
         "MB_per_s": round(len(lines) / write_hash / 1e6),
         "per_event": f"{write_hash / events * 1e6:.2f} us ({len(lines) // events} B/line)"},
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.ndjson"
        _, per_pair = build(out, lines, args.mb)
        size = out.stat().st_size
        digest = hashlib.sha256()
        read_all(out, hashed=False)  # into the page cache
        with out.open("rb") as f:
            while data := f.read(_CHUNK):
                digest.update(data)
        pairs = [
            PairState(a, r, state="running", cursor=Cursor(written=n, oldest=0, ids=["x"]))
            for (a, r), n in sorted(per_pair.items())
        ]
        for p in pairs:
            p.events = p.cursor.written
        ckpt = Checkpoint(
            spec={}, query={}, pairs=pairs, offset=size, written=sum(per_pair.values()),
            output_sha256=digest.hexdigest(),
        )  # fmt: skip
        steps: list[tuple[str, Callable[[], object]]] = [
            ("read (baseline)", lambda: read_all(out, hashed=False)),
            ("read + sha256", lambda: read_all(out, hashed=True)),
            ("resume check (check_output)", lambda: check_output(out, out, ckpt)),
        ]
        for name, fn in steps:
            seconds = best(args.repeat, fn)
            rows.append({"step": name, "bytes": size, "seconds": round(seconds, 3),
                         "MB_per_s": round(size / seconds / 1e6), "per_event": ""})  # fmt: skip
    print(table(f"The output's sha256: writing, and checking {args.mb} MB on resume", rows))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "resume_check.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
