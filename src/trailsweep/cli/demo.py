"""`trailsweep demo`: start the embedded emulator, sweep it, print NDJSON. No AWS account."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer

from trailsweep import SweepReport
from trailsweep.base.errors import ConfigError, InputError
from trailsweep.cli.demo_follow import run_demo_follow
from trailsweep.cli.emulator import scenario_names
from trailsweep.cli.logs import print_summary
from trailsweep.cli.runner import write_stdout
from trailsweep.emulator.settings import EmulatorSettings, SettingsError
from trailsweep.settings.config import SweepSettings
from trailsweep.settings.limits import check_emulator, split_list
from trailsweep.settings.options import Options, options_from_mapping, read_toml

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "demo.toml"
_DEMO_DEFAULTS: dict[str, Any] = {
    "accounts": "org", "regions": "all", "start_time": "2h", "max_items": 25,
    "emulator": {"diurnal": False, "idle_day_share": 0.0},
}  # fmt: skip


DemoScenarios = Annotated[
    str | None,
    typer.Option(
        help="Planted attacks in the organization: all, none, or names separated by "
        "commas. Default: the config's [emulator] scenarios, else all.",
    ),
]


def demo_command(
    config: Annotated[
        str | None,
        typer.Option(
            help="Demo config: an [emulator] table plus sweep keys. "
            "Default: configs/demo.toml if present."
        ),
    ] = None,
    raw: Annotated[bool, typer.Option(help="Keep CloudTrailEvent as a string.")] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="Follow instead: CloudTrail's delivery lag on (about 5 minutes, up to 15), "
            "the emulator's clock --speed times real time, a poll every simulated 30 s, "
            "each poll's lag on stderr, until Ctrl-C.",
        ),
    ] = False,
    speed: Annotated[
        float,
        typer.Option(help="With --follow: simulated seconds per real second, 1 to 600."),
    ] = 60.0,
    scenarios: DemoScenarios = None,
) -> None:
    """Start an embedded CloudTrail emulator (a small organization with realistic events),
    sweep every account and enabled region of it with org discovery and AssumeRole, and
    print the events as NDJSON on stdout. This is what `make demo` runs.

    With --follow it shows following instead: trailsweep catches up, then polls as events
    arrive late, out of order, and writes each once (trailsweep demo --follow | jq -c
    '[.EventTime, .EventName]')."""
    if not 1 <= speed <= 600:  # nan too
        raise InputError(f"--speed: {speed:g} is out of range; give 1 to 600 (with --follow)")
    data: dict[str, Any] = dict(_DEMO_DEFAULTS)
    if config is not None or DEFAULT_CONFIG.exists():
        data = read_toml(str(DEFAULT_CONFIG) if config is None else config)
    emu_table = data.pop("emulator", {})
    if not isinstance(emu_table, dict):
        raise ConfigError("--config: [emulator] must be a table")
    names = {f.name for f in dataclasses.fields(EmulatorSettings)}
    names -= {"faults", "now", "draw_origin"}
    unknown = set(emu_table) - names
    if unknown:
        raise ConfigError(f"--config: unknown [emulator] key {sorted(unknown)[0]!r}")
    where = f"--config: {DEFAULT_CONFIG if config is None else config}: [emulator] "
    check_emulator(emu_table, where)  # ranges and reasons: limits.EMULATOR
    for key, kind in (("realtime", bool), ("diurnal", bool), ("host", str), ("role_name", str)):
        if key in emu_table and not isinstance(emu_table[key], kind):
            wanted = "true or false" if kind is bool else "text"
            raise ConfigError(f"{where}{key}: expected {wanted}")
    emu_table["scenarios"] = _planted(emu_table.pop("scenarios", "all"), scenarios, where)
    if "regions" in emu_table:
        regions = emu_table["regions"]
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise ConfigError(f"{where}regions: expected a list of region names")
        emu_table["regions"] = tuple(split_list(f"{where}regions", ",".join(regions)))
    try:
        settings = EmulatorSettings(**emu_table)
    except SettingsError as err:  # the emulator's own words: bad input, exit 2
        raise InputError(str(err)) from None
    # Draws counted from now: the demo's window holds the same events whatever the hour.
    settings = dataclasses.replace(settings, draw_origin=settings.now)
    opts = options_from_mapping(data, str(DEFAULT_CONFIG) if config is None else config)
    if raw:
        opts.raw = True
    if follow:
        raise typer.Exit(run_demo_follow(settings, opts, speed))
    report = SweepReport()
    code = anyio.run(_demo, settings, opts, report)
    print_summary(report, sys.stderr)
    raise typer.Exit(code)


def _planted(configured: object, flag: str | None, where: str) -> tuple[str, ...]:
    """The scenarios to plant: --scenarios, else the config's, else all (the demo is where
    the planted attacks are shown)."""
    if flag is not None:
        return scenario_names(flag, "--scenarios")
    if isinstance(configured, list) and all(isinstance(n, str) for n in configured):
        configured = ",".join(configured)
    if not isinstance(configured, str):
        raise ConfigError(f"{where}scenarios: expected all, none or a list of names")
    return scenario_names(configured, f"{where}scenarios")


async def _demo(settings: EmulatorSettings, opts: Options, report: SweepReport) -> int:
    from trailsweep.emulator.server import Emulator  # loaded when used (start-up time)

    async with Emulator(settings) as emu:
        info = emu.ready_info()
        sys.stderr.write(f"trailsweep demo: emulator at {info['url']}, sweeping it\n")
        cfg = SweepSettings.from_options(
            opts.overlay(Options(endpoint_url=info["url"], region=info["region"])),
            access_key_id=info["access_key_id"],
            secret_access_key=info["secret_access_key"],
        )
        return await write_stdout(cfg, report)
