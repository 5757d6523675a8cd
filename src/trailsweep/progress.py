"""Live progress on stderr (only on a terminal unless forced) and the numbers behind it."""

from __future__ import annotations

import time
from typing import Any

import anyio
from rich.console import Console
from rich.live import Live
from rich.text import Text

from trailsweep.query import Query
from trailsweep.sweep import SweepReport


def snapshot(report: SweepReport, query: Query, now: float | None = None) -> dict[str, Any]:
    """Pairs done, events written and per second, calls/s against the quota in force,
    throttles, how far back in the window the sweep reached, and an ETA."""
    now = time.monotonic() if now is None else now
    elapsed = max(1e-6, now - report.started)
    start, end = query.start.timestamp(), query.end.timestamp()
    span = max(1.0, end - start)
    pairs = report.pairs
    covered = 0.0
    for p in pairs:
        if p.finished:
            covered += 1.0
        elif p.cursor.oldest is not None:
            covered += min(1.0, (end - p.cursor.oldest) / span)
    fraction = covered / len(pairs) if pairs else 0.0
    written = sum(p.cursor.written for p in pairs)
    calls = sum(p.calls for p in pairs)
    eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
    return {
        "pairs": len(pairs),
        "done": sum(p.state == "done" and p.finished for p in pairs),
        "failed": sum(p.state == "failed" for p in pairs),
        "events": written,
        "events_per_s": written / elapsed,
        "calls_per_s": calls / elapsed,
        "quota_per_s": sum(p.rate for p in pairs if p.state == "running"),
        "throttled": sum(p.throttled for p in pairs),
        "window_percent": 100.0 * fraction,
        "eta_s": eta,
    }


def render(s: dict[str, Any]) -> Text:
    eta = "--" if s["eta_s"] is None else f"{int(s['eta_s']) // 60}m{int(s['eta_s']) % 60:02d}s"
    return Text(
        f"pairs {s['done']}/{s['pairs']} done, {s['failed']} failed | "
        f"{s['events']:,} events ({s['events_per_s']:,.0f}/s) | "
        f"calls {s['calls_per_s']:.1f}/s of {s['quota_per_s']:.1f}/s quota | "
        f"{s['throttled']} throttled | window {s['window_percent']:.0f}% | ETA {eta}"
    )


async def show_progress(report: SweepReport, query: Query, *, force: bool) -> None:
    """Redraw four times a second until cancelled."""
    console = Console(stderr=True, force_terminal=force or None)
    with Live(render(snapshot(report, query)), console=console, transient=False) as live:
        while True:
            await anyio.sleep(0.25)
            live.update(render(snapshot(report, query)))
