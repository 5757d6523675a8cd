"""trailsweep: every CloudTrail management event of an organization, in one ordered stream.

Sweep LookupEvents over accounts and regions, newest first::

    import anyio, trailsweep

    async def main() -> None:
        settings = trailsweep.SweepSettings.build(accounts="org", regions="all",
                                                  start_time="1d")
        async with trailsweep.open_sweep(settings) as events:
            async for event in events:
                print(event.time, event.account, event.region, event.name)
        print(events.report.as_dict())

    anyio.run(main)

Without async: `for event in trailsweep.iter_events(settings)`. To a file that survives
crashes and resumes: `await trailsweep.export(settings, "events.ndjson")`; into parts of a
directory that log shippers read: `await trailsweep.export_parts(settings, "spool/")`. One account
and region, as `aws cloudtrail lookup-events`: `trailsweep.lookup_events(settings)`. The
outputs of shards merged back into one stream: `trailsweep.merge_files(parts, "all.ndjson")`.
Every error is a `TrailsweepError` carrying its exit code and a one-line message.

This module only re-exports; the layers below it (settings, aws, engine, output, api)
are not an API and may change.
"""

# No `from __future__ import annotations` and private aliases only: every public name of
# this module is in __all__ (tests/test_api.py holds it so).
import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from trailsweep.api.exporting import export
    from trailsweep.api.lookup import lookup_events
    from trailsweep.api.merge import MergeReport, merge_files
    from trailsweep.api.parts import PartInfo, export_parts
    from trailsweep.api.stream import SweepStream, open_sweep
    from trailsweep.api.threaded import SweepIterator, iter_events
    from trailsweep.base.errors import (
        BadAnswer,
        CheckpointError,
        ConfigError,
        CredentialsError,
        InputError,
        OutputFailed,
        PairFailed,
        ServerFailed,
        StateError,
        TimedOut,
        TrailsweepError,
        WorkerLost,
    )
    from trailsweep.engine.pair import SweepEvent
    from trailsweep.engine.sweep import SweepReport
    from trailsweep.settings.config import SweepSettings

    __version__: str

# Where each name lives. Decision: imported when first used (PEP 562), not here: every
# `trailsweep.*` import runs this file, and the emulator (`trailsweep emulator`, the
# tests' servers) would otherwise load the whole client, aioboto3 and botocore with it
# (620 modules instead of 85, a second more per start).
_ERRORS = "trailsweep.base.errors"
_HOMES = {
    "BadAnswer": _ERRORS,
    "CheckpointError": _ERRORS,
    "ConfigError": _ERRORS,
    "CredentialsError": _ERRORS,
    "InputError": _ERRORS,
    "MergeReport": "trailsweep.api.merge",
    "OutputFailed": _ERRORS,
    "PairFailed": _ERRORS,
    "PartInfo": "trailsweep.api.parts",
    "ServerFailed": _ERRORS,
    "StateError": _ERRORS,
    "SweepEvent": "trailsweep.engine.pair",
    "SweepIterator": "trailsweep.api.threaded",
    "SweepReport": "trailsweep.engine.sweep",
    "SweepSettings": "trailsweep.settings.config",
    "SweepStream": "trailsweep.api.stream",
    "TimedOut": _ERRORS,
    "TrailsweepError": _ERRORS,
    "WorkerLost": _ERRORS,
    "export": "trailsweep.api.exporting",
    "export_parts": "trailsweep.api.parts",
    "iter_events": "trailsweep.api.threaded",
    "lookup_events": "trailsweep.api.lookup",
    "merge_files": "trailsweep.api.merge",
    "open_sweep": "trailsweep.api.stream",
}

__all__ = [
    "BadAnswer",
    "CheckpointError",
    "ConfigError",
    "CredentialsError",
    "InputError",
    "MergeReport",
    "OutputFailed",
    "PairFailed",
    "PartInfo",
    "ServerFailed",
    "StateError",
    "SweepEvent",
    "SweepIterator",
    "SweepReport",
    "SweepSettings",
    "SweepStream",
    "TimedOut",
    "TrailsweepError",
    "WorkerLost",
    "__version__",
    "export",
    "export_parts",
    "iter_events",
    "lookup_events",
    "merge_files",
    "open_sweep",
]


def __getattr__(name: str) -> _typing.Any:
    # `__version__` is read from the installed package's metadata, so pyproject.toml is the
    # one place the version is written; looked up only when asked (it costs tens of ms).
    if name == "__version__":
        return _package_version()
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'trailsweep' has no attribute {name!r}")
    value = getattr(_importlib.import_module(home), name)
    globals()[name] = value  # found here from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _package_version() -> str:
    """The installed trailsweep's version, from its package metadata (pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trailsweep")
    except PackageNotFoundError:  # a source tree put on sys.path, never installed
        return "0+unknown"
