"""What checking every LookupEvents page costs (page_check.py), on honest pages.

    python benchmarks/page_check.py [--quick]

The client's own work on a 50-event page, with and without the checks: parse the body
(orjson), check it (`check_page`: shape, window, order, each CloudTrailEvent checked to
be one JSON object; `ChainCheck.repeats`: order across pages, repeated EventIds),
make the SweepEvents and the NDJSON lines, default (`CloudTrailEvent` spliced in as an
object) and --raw (kept as a string). Pages come from the emulator's own data, so records
have the size and shape of CloudTrail's. Best of several rounds of CPU time (process_time),
in the same run, reported as microseconds per event and as ratios.
JSON goes to benchmarks/results/page_check.json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from trailsweep.aws.page_check import ChainCheck, check_page
from trailsweep.emulator import EmulatorSettings, EmulatorThread
from trailsweep.engine.pair import PageRef, PairState, SweepEvent, lines

RESULTS = Path(__file__).resolve().parent / "results"
PAGE = 50


def honest_bodies(pages: int) -> list[tuple[bytes, dict[str, Any]]]:
    """`pages` bodies of 50 events each, newest first, with the params they answer."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    settings = EmulatorSettings(
        now=now,
        draw_origin=now,
        members=1,
        events_per_day=20_000.0,
        idle_day_share=0.0,
        diurnal=False,
    )
    end = int(now.timestamp())
    start = end - int(timedelta(days=2).total_seconds())
    with EmulatorThread(settings) as emu:
        account = emu.emulator.world.management.id
        events = max(
            (emu.truth(account, region, start=start, end=end) for region in settings.regions),
            key=len,
        )
    if len(events) < pages * PAGE:
        raise SystemExit(f"only {len(events)} events; ask for fewer pages")
    params = {"MaxResults": PAGE, "StartTime": start, "EndTime": end}
    out = []
    for i in range(pages):
        page = events[i * PAGE : (i + 1) * PAGE]
        out.append((orjson.dumps({"Events": page, "NextToken": f"t{i}"}), params))
    return out


def client_work(
    bodies: list[tuple[bytes, dict[str, Any]]], *, checked: bool, raw: bool
) -> Callable[[], None]:
    """One pass of the client's per-page work over `bodies`."""
    pair = PairState("123456789012", "us-east-1")

    def run() -> None:
        chain = ChainCheck()
        token = None
        for body, params in bodies:
            page = orjson.loads(body)
            if checked:
                check_page(page, params)
                chain.repeats(page["Events"], token, page.get("NextToken"))
            events = page["Events"]
            ref = PageRef(token, None, len(events), page.get("NextToken"))
            batch = [
                SweepEvent((-int(e["EventTime"]), pair.account, pair.region, i), pair, e, ref, i)
                for i, e in enumerate(events)
            ]
            lines(batch, raw=raw)
            token = page.get("NextToken")

    return run


def best(fns: list[Callable[[], None]], rounds: int) -> list[float]:
    """The least CPU time of each of `fns` over `rounds` rounds, run in turn in each round
    (so a busy spell on a shared machine hits them alike)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, spent in zip(fns, times, strict=True):
            started = time.process_time()
            fn()
            spent.append(time.process_time() - started)
    return [min(spent) for spent in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pages and rounds")
    args = parser.parse_args()
    pages, rounds = (40, 5) if args.quick else (200, 15)
    bodies = honest_bodies(pages)
    n = pages * PAGE
    record_bytes = sum(
        len(e["CloudTrailEvent"]) for b, _ in bodies for e in orjson.loads(b)["Events"]
    )
    rows = []
    for raw in (False, True):
        before, after = best(
            [
                client_work(bodies, checked=False, raw=raw),
                client_work(bodies, checked=True, raw=raw),
            ],
            rounds,
        )
        rows.append(
            {
                "path": "--raw" if raw else "default",
                "unchecked_us_per_event": round(before / n * 1e6, 2),
                "checked_us_per_event": round(after / n * 1e6, 2),
                "check_us_per_event": round((after - before) / n * 1e6, 2),
                "ratio": round(after / before, 3),
            }
        )
    print(f"{n} events in {pages} pages, CloudTrailEvent {record_bytes / n:.0f} bytes on average")
    print(
        f"{'path':<8} {'unchecked us/ev':>16} {'checked us/ev':>14} {'check us/ev':>12} "
        f"{'ratio':>6}"
    )
    for r in rows:
        print(
            f"{r['path']:<8} {r['unchecked_us_per_event']:>16} {r['checked_us_per_event']:>14} "
            f"{r['check_us_per_event']:>12} {r['ratio']:>6}"
        )
    RESULTS.mkdir(exist_ok=True)
    result = {"events": n, "record_bytes": round(record_bytes / n), "rows": rows}
    (RESULTS / "page_check.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
