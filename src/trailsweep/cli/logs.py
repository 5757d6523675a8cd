"""What `sweep` and `lookup-events` write on stderr besides data: log lines and the summary.

`-v` logs every call, `-q` keeps only errors (no summary totals, no progress, no warnings;
each failed account/region is still named), `--log-format json` makes every line an
object for machines. The handler belongs to the command's run (`setup_logging`), not to
the process at import time.

    text: 2026-11-30T23:00:00.123Z trailsweep: 111122223333/us-east-1 84ms ok (rate 2.00/s)
    json: {"ts":"2026-11-30T23:00:00.123Z","level":"debug","msg":"111122223333/us-east-1
          84ms ok (rate 2.00/s)","account":"111122223333","region":"us-east-1","ms":84,...}

Log lines carry their UTC time (ISO 8601, milliseconds, `Z`); the summary and the final
error line do not, they are not events of the run. In json mode the summary is one object
too (`"msg": "summary"` with the totals of `--summary-json`) and each failed pair one
`"level": "error"` object, so every line a run writes on stderr parses; a bad-input error
(exit 2, before anything runs) stays one text line, as every other usage error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TextIO

import orjson
import typer

from trailsweep import SweepReport
from trailsweep.base.errors import InputError

LOG_FORMATS = ("text", "json")

QuietOption = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q",
        help="Errors only on stderr: no summary totals, no progress, no warnings (each "
        "failed account/region is still named).",
    ),
]  # fmt: skip
LogFormatOption = Annotated[
    str,
    typer.Option(
        help="text, or json: one JSON object per stderr line (ts, level, msg and the "
        "line's fields; the summary too)."
    ),
]


def utc_stamp(epoch: float) -> str:
    """`2026-11-30T23:00:00.123Z`: ISO 8601, UTC, milliseconds."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{utc_stamp(record.created)} trailsweep: {record.getMessage()}"


class JsonFormatter(logging.Formatter):
    """One object per record; a record's `fields` (logger.debug(..., extra={"fields":
    {...}})) are added beside ts, level and msg, never over them."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": utc_stamp(record.created),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            doc.update((k, v) for k, v in fields.items() if k not in doc)
        return orjson.dumps(doc, default=str).decode()


@dataclass(frozen=True)
class LogSettings:
    verbose: bool = False
    quiet: bool = False
    format: str = "text"

    @classmethod
    def of(cls, *, verbose: bool, quiet: bool, log_format: str) -> LogSettings:
        """Checked flags; InputError (exit 2) before anything runs."""
        if verbose and quiet:
            raise InputError("--verbose and --quiet ask for opposite things; give one of them")
        if log_format not in LOG_FORMATS:
            raise InputError(f"--log-format: {log_format!r} is not one of text, json")
        return cls(verbose=verbose, quiet=quiet, format=log_format)

    def setup(self, stream: TextIO) -> None:
        """trailsweep's own log lines on `stream`; botocore's stay quiet (its
        credential-refresh warnings carry tracebacks and say nothing our summary does not)."""
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter() if self.format == "json" else TextFormatter())
        log = logging.getLogger("trailsweep")
        log.handlers[:] = [handler]
        level = logging.DEBUG if self.verbose else logging.WARNING
        log.setLevel(logging.ERROR if self.quiet else level)
        log.propagate = False
        for name in ("botocore", "aiobotocore", "aioboto3", "urllib3"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

    def summary(
        self, report: SweepReport, stream: TextIO, *, now: Callable[[], float] = time.time
    ) -> None:
        """The end-of-run summary in this format; with --quiet only the failed pairs."""
        if self.format == "text":
            if not self.quiet:
                print_summary(report, stream)
                return
            for p in report.failed:
                stream.write(f"trailsweep: failed {p.name}: {p.error}\n")
            stream.flush()
            return
        totals = report.as_dict()
        failures = totals.pop("failures")
        ts = utc_stamp(now())
        if not self.quiet:
            stream.write(_json_line({"ts": ts, "level": "info", "msg": "summary", **totals}))
        for f in failures:
            msg = f"failed {f['account']}/{f['region']}: {f['error']}"
            fields = {k: v for k, v in f.items() if k not in ("ts", "level", "msg")}
            stream.write(_json_line({"ts": ts, "level": "error", "msg": msg, **fields}))
        stream.flush()


def _json_line(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc, default=str).decode() + "\n"


def print_summary(report: SweepReport, stream: TextIO) -> None:
    """The final text summary: totals, then every failed pair with its reason, then
    warnings about `--where` paths that no record read held (a typo, most likely)."""
    d = report.as_dict()
    # Pairs cut short by --max-items are named as such: "complete" counts only pairs whose
    # every event is written, and exit 0 then means "stopped where asked", not "all done".
    stopped = f"{d['stopped_at_max_items']} stopped at --max-items, " if report.limited else ""
    stream.write(
        f"trailsweep: {d['pairs']} pairs, {d['done']} complete, {stopped}{d['failed']} failed; "
        f"{d['events']} events in {d['seconds']:.1f}s "
        f"({d['calls']} calls, {d['throttled']} throttled)\n"
    )
    for p in report.failed:
        stream.write(f"trailsweep: failed {p.name}: {p.error}\n")
    seen = report.where_seen
    if seen is not None and seen.records:
        for path in seen.missing.values():
            stream.write(
                f"trailsweep: warning: --where path {path} matched no record: none of the "
                f"{seen.records:,} records read has that field\n"
            )
    stream.flush()
