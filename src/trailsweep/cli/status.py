"""`trailsweep status FILE`: how far an export got, from its checkpoint alone."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer

from trailsweep.api.coverage import coverage, window_coverage
from trailsweep.api.exporting import Checkpoint, checkpoint_path, load_checkpoint
from trailsweep.base.errors import InputError
from trailsweep.settings.checks import check_path
from trailsweep.settings.timeparse import parse_time


def status_report(ckpt: Checkpoint) -> dict[str, Any]:
    """Per pair: state, events written, how far back in the window it reached (percent)."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    start = int(parse_time(ckpt.query["start"], now=now).timestamp())
    end = int(parse_time(ckpt.query["end"], now=now).timestamp())
    pairs = []
    for p in ckpt.pairs:
        reached = round(100.0 * coverage(p, start, end), 1)
        # Error texts were cleaned as the checkpoint was loaded (checkpoint.load).
        pairs.append({**p.as_dict(), "reached_percent": reached})
    done = sum(1 for p in ckpt.pairs if p.finished and p.state == "done")
    failed = sum(1 for p in ckpt.pairs if p.state == "failed")
    return {
        "finished": ckpt.finished,
        "window": {"start": ckpt.query["start"], "end": ckpt.query["end"]},
        "pairs_total": len(ckpt.pairs),
        "pairs_done": done,
        "pairs_failed": failed,
        "events_written": ckpt.written,
        "output_bytes": ckpt.offset,
        # The pairs' unrounded coverage averaged, as the progress bar does (averaging the
        # rounded percents could be off by 0.1).
        "progress_percent": round(100.0 * window_coverage(ckpt.pairs, start, end), 1),
        "pairs": pairs,
    }


def status_command(
    target: Annotated[str, typer.Argument(help="The export's output file (or its checkpoint).")],
    json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Show how far an --output export got: per pair state, events written, how far back in
    the window it reached, failures; and the overall progress. Reads only the checkpoint."""
    path = check_path(target, "status")
    if not path.name.endswith(".checkpoint.json"):
        path = checkpoint_path(path)
    if not path.exists():
        raise InputError(f"no checkpoint at {path}; was the export run with --output {target}?")
    report = status_report(load_checkpoint(path))
    if json:
        sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
        return
    out = sys.stdout
    state = "finished" if report["finished"] else "unfinished (run the same command to resume)"
    out.write(
        f"{target}: {state}; window {report['window']['start']} .. {report['window']['end']}\n"
        f"pairs: {report['pairs_done']}/{report['pairs_total']} done, "
        f"{report['pairs_failed']} failed; {report['events_written']} events written; "
        f"{report['progress_percent']}% of the window covered\n"
    )
    for p in report["pairs"]:
        line = f"  {p['account']}/{p['region']:<16} {p['state']:<8} {p['events']:>9} events"
        line += f" {p['reached_percent']:>5}%"
        if p["error"]:
            line += f"  {p['error']}"
        out.write(line + "\n")
