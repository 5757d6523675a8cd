"""A program that uses trailsweep's public API as its users will: mypy checks it in
`make test` (pyproject.toml [tool.mypy] files); nothing runs it. A change to the API that
would break such a program (a name gone, a type changed) fails the type check."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

import trailsweep
from trailsweep import (
    InputError,
    PartInfo,
    SweepEvent,
    SweepIterator,
    SweepReport,
    SweepSettings,
    SweepStream,
    TrailsweepError,
)


def settings_of(config: Path | None) -> SweepSettings:
    if config is not None:
        return SweepSettings.from_toml(config)
    return SweepSettings.build(
        accounts="org",
        regions=["us-east-1", "eu-west-1"],
        start_time="1d",
        lookup_attributes=["AttributeKey=EventName,AttributeValue=ConsoleLogin"],
        where=["userIdentity.type=Root"],
        max_items=100,
        unordered=True,
        raw=False,
    )


def describe(event: SweepEvent) -> str:
    when: datetime = event.time
    record: dict[str, Any] = event.record
    line: bytes = event.ndjson()
    fields: dict[str, Any] = event.to_dict()
    return f"{when:%H:%M} {event.account}/{event.region} {event.name} {event.id} " + (
        f"{record.get('sourceIPAddress')} {len(line)} {len(fields)}"
    )


def summary(report: SweepReport) -> tuple[int, int, int, int]:
    failures: list[str] = [f"{p.account}/{p.region}: {p.state} {p.error}" for p in report.failed]
    document: dict[str, Any] = report.as_dict()
    assert isinstance(document["events"], int), failures
    return report.events, report.calls, report.throttled, report.exit_code


async def sweep(settings: SweepSettings) -> int:
    async with trailsweep.open_sweep(settings) as events:
        stream: SweepStream = events
        async for event in stream:
            print(describe(event))
            if stream.report.events >= 10:
                break
    return summary(events.report)[3]


async def lookup(settings: SweepSettings) -> list[str]:
    async with aclosing(trailsweep.lookup_events(settings)) as events:
        return [event.id async for event in events]


async def to_file(settings: SweepSettings, path: Path) -> int:
    report: SweepReport = await trailsweep.export(settings, path, checkpoint=f"{path}.ckpt")
    return report.exit_code


async def to_parts(directory: Path) -> list[str]:
    names: list[str] = []

    def on_part(part: PartInfo) -> None:
        names.append(f"{part.name} {part.number} {part.lines} {part.size} {part.sha256}")

    def observe(events: Sequence[SweepEvent]) -> None:
        names.extend(event.id for event in events[:0])

    parted = SweepSettings.build(
        accounts="org", start_time="1d", output_dir=directory, part_size="64MiB",
        part_age=300, compress="zst",
    )  # fmt: skip
    report: SweepReport = await trailsweep.export_parts(parted, observe=observe, on_part=on_part)
    return names if report.exit_code == 0 else []


def in_a_script(settings: SweepSettings) -> int:
    with trailsweep.iter_events(settings, buffer=4) as events:
        iterator: SweepIterator = events
        names = [event.name for event in iterator]
    return len(names) + iterator.report.events


def merged(parts: Sequence[str | Path], out: Path | None) -> tuple[int, int]:
    report: trailsweep.MergeReport = trailsweep.merge_files(parts, out, overwrite=True)
    skipped: tuple[str, ...] = report.skipped
    document: dict[str, Any] = report.as_dict()
    return report.lines + len(skipped) + len(document), report.size


def main() -> int:
    version: str = trailsweep.__version__
    try:
        settings = settings_of(None)
        code: int = anyio.run(sweep, settings)
        anyio.run(lookup, settings)
        anyio.run(to_file, settings, Path("events.ndjson"))
        anyio.run(to_parts, Path("spool"))
        in_a_script(settings)
        merged(["shard-0.ndjson.gz", Path("spool-1")], Path("all.ndjson"))
    except InputError as err:
        print(f"bad input: {err}", file=sys.stderr)
        return err.exit_code
    except TrailsweepError as err:
        print(f"trailsweep {version}: {err.message}", file=sys.stderr)
        return err.exit_code
    return code


if __name__ == "__main__":
    sys.exit(main())
