"""What printing costs: lookup-events' output formats on the same realistic events.

Baseline, measured in the same run: the streamed json document (event_json +
write_document, the default path, which never parses an event). The other rows re-render
the parsed document (render(): --query, text, table, yaml, yaml-stream, iso8601), as the
AWS CLI renders its whole result. No HTTP: the events come from the emulator's ground
truth, so only the formatting is timed.

    python benchmarks/output_formats.py [--events 2000]
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trailsweep.emulator import EmulatorSettings, EmulatorThread
from trailsweep.engine.single_pair import PrintedPage, event_json, write_document
from trailsweep.output.formats import OutputSpec, compile_query, render

RESULTS = Path(__file__).parent / "results"


def events(count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    settings = EmulatorSettings(now=now, draw_origin=now, members=0, suspended=0,
                                regions=("us-east-1",), events_per_day=20000.0,
                                idle_day_share=0.0, diurnal=False)  # fmt: skip
    with EmulatorThread(settings) as emu:
        account = emu.emulator.world.management.id
        start = int((now - timedelta(days=2)).timestamp())
        found = emu.truth(account, "us-east-1", start=start, end=int(now.timestamp()))
    return found[:count]


def streamed(evs: list[dict[str, Any]]) -> bytes:
    spool = io.BytesIO()
    for i, e in enumerate(evs):
        spool.write((",\n        " if i else "").encode() + event_json(e).encode())
    out = io.BytesIO()
    write_document(out, spool, len(evs), None)
    return out.getvalue()


def timed(fn: Callable[[], bytes], rounds: int = 3) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        size = len(fn())
        best = min(best, time.perf_counter() - t0)
    return best, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    evs = events(args.events)
    pages = [PrintedPage(50, "t")] * (len(evs) // 50) + [PrintedPage(len(evs) % 50)]
    document = streamed(evs)

    def rendered(spec: OutputSpec) -> Callable[[], bytes]:
        return lambda: render(json.loads(document), pages, paginated=True, spec=spec)

    cases = {
        "json (streamed, baseline)": lambda: streamed(evs),
        "json --query": rendered(OutputSpec(query=compile_query("Events[].EventName"))),
        "json iso8601": rendered(OutputSpec(timestamps="iso8601")),
        "text": rendered(OutputSpec(format="text")),
        "table": rendered(OutputSpec(format="table")),
        "yaml": rendered(OutputSpec(format="yaml")),
        "yaml-stream": rendered(OutputSpec(format="yaml-stream")),
    }
    rows = {name: timed(fn) for name, fn in cases.items()}
    base = rows["json (streamed, baseline)"][0]
    print(f"{len(evs)} events")
    print(f"{'format':28} {'seconds':>9} {'x baseline':>11} {'MB out':>8}")
    for name, (secs, size) in rows.items():
        print(f"{name:28} {secs:9.3f} {secs / base:11.1f} {size / 1e6:8.2f}")
    RESULTS.mkdir(exist_ok=True)
    result = {"events": len(evs), "seconds": {n: s for n, (s, _) in rows.items()},
              "bytes": {n: b for n, (_, b) in rows.items()}}  # fmt: skip
    (RESULTS / "output_formats.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
