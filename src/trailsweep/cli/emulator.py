"""`trailsweep emulator`: serve the CloudTrail emulator until Ctrl-C."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
import orjson
import typer

from trailsweep.api.preflight import atomic_write, check_writable
from trailsweep.base.errors import InputError
from trailsweep.emulator.lag import AWS_LAG
from trailsweep.emulator.settings import (
    DEFAULT_REGIONS,
    SCENARIO_NAMES,
    EmulatorSettings,
    Faults,
    SettingsError,
    is_loopback,
)
from trailsweep.settings.checks import check_path
from trailsweep.settings.limits import EMULATOR, check_emulator, split_list
from trailsweep.settings.names import shown
from trailsweep.settings.regions import check_known
from trailsweep.settings.timeparse import parse_time

EmulatorPort = Annotated[int, typer.Option(help="TCP port; 0 picks a free one.")]
EmulatorHost = Annotated[
    str, typer.Option(help="Address to listen on; beyond loopback needs --allow-remote.")
]
EmulatorAllowRemote = Annotated[
    bool,
    typer.Option(help="Let --host be an address other machines reach (keys and all)."),
]
EmulatorControlToken = Annotated[
    str | None,
    typer.Option(
        envvar="TRAILSWEEP_EMULATOR_TOKEN",
        show_envvar=True,
        help="Bearer token of the control API (the env var keeps it out of ps). "
        "Default: a random one, in the ready line.",
    ),
]
EmulatorSeed = Annotated[int, typer.Option(help="Same seed, same organization and events.")]
EmulatorNow = Annotated[
    str | None,
    typer.Option(help="Pin the data clock (ISO 8601, UTC). Default: the start time."),
]
EmulatorRealtime = Annotated[
    bool, typer.Option(help="Let the data clock advance with the wall clock (--clock-speed 1).")
]
EmulatorClockSpeed = Annotated[
    float | None,
    typer.Option(
        help="Data-clock seconds per wall-clock second: 60 runs an hour of events a "
        "minute; 0 holds it still (step it: POST /_emulator/clock). Default: 0, or 1 "
        "with --realtime.",
    ),
]
EmulatorLag = Annotated[
    bool,
    typer.Option(
        "--lag",
        help="Delay each event's delivery as CloudTrail does (median 270 s, one event in "
        "twenty later, up to 900 s): LookupEvents shows it once the data clock passes its arrival.",
    ),
]
EmulatorLagMedian = Annotated[
    float | None,
    typer.Option(help="Median delivery delay, seconds (turns the lag on; default 270)."),
]
EmulatorLagTailShare = Annotated[
    float | None,
    typer.Option(help="Share 0..1 of events in the late tail (turns the lag on; default 0.05)."),
]
EmulatorLagTailMax = Annotated[
    float | None,
    typer.Option(help="Latest delivery, seconds after the call (turns the lag on; default 900)."),
]
EmulatorScenarios = Annotated[
    str,
    typer.Option(
        help="Planted attacks (CloudTrail stopped, GuardDuty disabled, a backdoor IAM user, "
        "...), each at a seeded time in the last two hours: all, none, or names separated "
        "by commas; GET /_emulator/scenarios lists them with their EventIds. Default: none.",
    ),
]
EmulatorMembers = Annotated[int, typer.Option(help="Member accounts besides management.")]
EmulatorSuspended = Annotated[int, typer.Option(help="How many members are SUSPENDED.")]
REGIONS_DEFAULT = ",".join(DEFAULT_REGIONS)  # what --help shows as the default
EmulatorRegions = Annotated[
    str, typer.Option(help="Comma-separated regions enabled in every account.")
]
EmulatorEventsPerDay = Annotated[float, typer.Option(help="Mean events/day of a normal pair.")]
EmulatorSkew = Annotated[float, typer.Option(help="Busiest over quietest pair volume.")]
EmulatorRate = Annotated[float, typer.Option(help="LookupEvents quota, calls/s per pair.")]
EmulatorBurst = Annotated[float, typer.Option(help="Quota bucket size, calls.")]
EmulatorLatencyMs = Annotated[float, typer.Option(help="Added latency per call.")]
EmulatorJitterMs = Annotated[float, typer.Option(help="Random extra latency 0..N ms.")]
EmulatorErrorRate = Annotated[float, typer.Option(help="Share of calls answered 5xx.")]
EmulatorResetRate = Annotated[float, typer.Option(help="Share of calls reset.")]
EmulatorTokenTtl = Annotated[float, typer.Option(help="NextToken lifetime, seconds.")]
EmulatorCredentialTtl = Annotated[float, typer.Option(help="AssumeRole lifetime, seconds.")]
EmulatorPrintEnv = Annotated[
    bool,
    typer.Option(
        "--print-env",
        help="Print `export AWS_...` lines for the management account on stdout, ready "
        "to source, instead of the JSON ready line (which goes to stderr).",
    ),
]
EmulatorEnvFile = Annotated[
    str | None,
    typer.Option(
        help="Write the same lines to this file (mode 0600, whole: written beside it and "
        "renamed) once listening, before the ready line.",
    ),
]


def emulator_command(
    port: EmulatorPort = 0,
    host: EmulatorHost = "127.0.0.1",
    allow_remote: EmulatorAllowRemote = False,
    control_token: EmulatorControlToken = None,
    seed: EmulatorSeed = 7,
    now: EmulatorNow = None,
    realtime: EmulatorRealtime = False,
    clock_speed: EmulatorClockSpeed = None,
    lag: EmulatorLag = False,
    lag_median: EmulatorLagMedian = None,
    lag_tail_share: EmulatorLagTailShare = None,
    lag_tail_max: EmulatorLagTailMax = None,
    members: EmulatorMembers = 5,
    suspended: EmulatorSuspended = 1,
    regions: EmulatorRegions = REGIONS_DEFAULT,
    events_per_day: EmulatorEventsPerDay = 200,
    skew: EmulatorSkew = 100,
    rate: EmulatorRate = 2.0,
    burst: EmulatorBurst = 2.0,
    latency_ms: EmulatorLatencyMs = 0.0,
    jitter_ms: EmulatorJitterMs = 0.0,
    error_rate: EmulatorErrorRate = 0.0,
    reset_rate: EmulatorResetRate = 0.0,
    token_ttl: EmulatorTokenTtl = 3600.0,
    credential_ttl: EmulatorCredentialTtl = 3600.0,
    scenarios: EmulatorScenarios = "none",
    print_env: EmulatorPrintEnv = False,
    env_file: EmulatorEnvFile = None,
) -> None:
    """Serve a CloudTrail LookupEvents emulator (with STS, Organizations, EC2 DescribeRegions
    and Account ListRegions) on one port, until Ctrl-C.

    Once it listens it prints one ready line on stdout, a JSON object with url,
    access_key_id, secret_access_key, region, account (the management account) and
    control_token. With --print-env it prints shell lines instead (export AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_DEFAULT_REGION; unset
    AWS_SESSION_TOKEN), and the ready line goes to stderr; --env-file writes them to a file.
    Source them and any AWS client (boto3, the AWS CLI, trailsweep) talks to the emulator.

    The same flags serve the same events: from the seed and the data clock (--now, moved
    by --clock-speed or POST /_emulator/clock). --lag delays delivery as CloudTrail does;
    `--lag --clock-speed 60` serves an hour of late-arriving events a minute. Control API:
    GET <url>/_emulator/world (?secrets=1 adds the secret key), /stats, /faults, /truth,
    /clock, /scenarios with "Authorization: Bearer <control_token>". Listens on 127.0.0.1
    unless --host and --allow-remote say otherwise.
    """
    faults: dict[str, Any] = dict(
        rate=rate, burst=burst, latency_ms=latency_ms, jitter_ms=jitter_ms, error_rate=error_rate,
        reset_rate=reset_rate, token_ttl=token_ttl, credential_ttl=credential_ttl,
        **_lag_flags(lag, median=lag_median, tail_share=lag_tail_share, tail_max=lag_tail_max),
    )  # fmt: skip
    settings = _settings(
        seed=seed, now=now, realtime=realtime, clock_speed=clock_speed, members=members,
        suspended=suspended, regions=regions, events_per_day=events_per_day, skew=skew,
        host=host, port=port, allow_remote=allow_remote, control_token=control_token,
        faults=faults, env_file=env_file, scenarios=scenario_names(scenarios, "--scenarios"),
    )  # fmt: skip
    _serve_until_stopped(settings, Ready(print_env=print_env, env_file=env_file))


def _lag_flags(
    on: bool, *, median: float | None, tail_share: float | None, tail_max: float | None
) -> dict[str, float]:
    """The lag settings the flags ask for: none (no lag) unless --lag or one of the
    --lag-* flags is given; then AWS_LAG with the ones given in its place."""
    if not on and median is None and tail_share is None and tail_max is None:
        return {}
    return {
        "lag_median": AWS_LAG["lag_median"] if median is None else median,
        "lag_tail_share": AWS_LAG["lag_tail_share"] if tail_share is None else tail_share,
        "lag_tail_max": AWS_LAG["lag_tail_max"] if tail_max is None else tail_max,
    }


def _faults(values: dict[str, Any]) -> Faults:
    """The faults of the flags; one the emulator cannot take is bad input, named by its
    flag (exit 2)."""
    try:
        return Faults(**values)
    except SettingsError as err:
        if err.setting is None:
            raise InputError(str(err)) from None
        raise InputError(f"--{err.setting.replace('_', '-')}: {err.reason}") from None


def _settings(
    *, seed: int, now: str | None, realtime: bool, clock_speed: float | None, members: int,
    suspended: int, regions: str, events_per_day: float, skew: float, host: str, port: int,
    allow_remote: bool, control_token: str | None, faults: dict[str, Any], env_file: str | None,
    scenarios: tuple[str, ...] = (),
) -> EmulatorSettings:  # fmt: skip
    """The emulator's settings from the flags, every flag checked first (exit 2 on a bad one)."""
    pinned = (
        parse_time(now, now=datetime.now(UTC), option="--now")
        if now
        else datetime.now(UTC).replace(microsecond=0)
    )
    region_list = tuple(r.strip() for r in split_list("--regions", regions))
    check_known(region_list, "--regions")  # the emulator serves real region names only
    speed = _clock_speed(realtime, clock_speed)
    _check_listen(host, port)
    if env_file is not None:
        check_writable(check_path(env_file, "--env-file", reserve=ENV_FILE_RESERVE), "--env-file")
    numbers = {
        "seed": seed, "members": members, "suspended": suspended,
        "events_per_day": events_per_day, "skew": skew, **faults,
    }  # fmt: skip
    check_emulator(numbers, "--")  # ranges and reasons: limits.EMULATOR
    if suspended > members:
        raise InputError(f"--suspended: {suspended} is more than --members ({members})")
    made = _faults(faults)  # the lag flags' ranges: Faults's own checks
    try:
        return EmulatorSettings(
            seed=seed, now=pinned, clock_speed=speed, members=members, suspended=suspended,
            regions=region_list, events_per_day=events_per_day, skew=skew, host=host,
            port=port, allow_remote=allow_remote, control_token=control_token, faults=made,
            scenarios=scenarios,
        )  # fmt: skip
    except SettingsError as err:  # the emulator's own words: bad input, exit 2
        raise InputError(str(err)) from None


def scenario_names(text: str, option: str) -> tuple[str, ...]:
    """The planted scenarios a flag names: all, none, or known names separated by commas."""
    if text.strip() in ("all", "none"):
        return SCENARIO_NAMES if text.strip() == "all" else ()
    names = tuple(n.strip() for n in split_list(option, text))
    unknown = [n for n in names if n not in SCENARIO_NAMES]
    if unknown:
        raise InputError(
            f"{option}: unknown scenario {unknown[0]!r}; give all, none, or names from: "
            + ", ".join(SCENARIO_NAMES)
        )
    return names


def _clock_speed(realtime: bool, clock_speed: float | None) -> float:
    """The data clock's speed from --realtime (1) or --clock-speed, not both."""
    if clock_speed is None:
        return 1.0 if realtime else 0.0
    if realtime:
        raise InputError("--realtime is --clock-speed 1: give one of them, not both")
    if not 0 <= clock_speed <= MAX_CLOCK_SPEED:
        raise InputError(
            f"--clock-speed: {clock_speed:g} is out of range; give data seconds per wall "
            f"second from 0 (still until stepped) to {MAX_CLOCK_SPEED:g} (a day a second)"
        )
    return clock_speed


# A day of data a wall-clock second: beyond it a poller sees only hour-long jumps.
MAX_CLOCK_SPEED = 86_400.0


def _serve_until_stopped(settings: EmulatorSettings, ready: Ready) -> None:
    """Serve until Ctrl-C; a port or host the system refuses is bad input (exit 2)."""
    try:
        anyio.run(_serve, settings, ready)
    except KeyboardInterrupt:
        # Ctrl-C is how the emulator is meant to end (it serves "until Ctrl-C"): a
        # stop as documented is a success, said in one line, as servers such as uvicorn do.
        sys.stderr.write("trailsweep: emulator stopped\n")
        return
    except (OSError, UnicodeError) as err:  # UnicodeError: a host name IDNA refuses
        reason = err.strerror if isinstance(err, OSError) else "not a valid host name"
        raise InputError(
            f"emulator: cannot listen on {shown(settings.host)}:{settings.port} ({reason}); "
            "check --host, or choose another --port (0 picks a free one)"
        ) from None


def _check_listen(host: str, port: int) -> None:
    """A port the system can bind and a host that can be an address or a name."""
    EMULATOR["port"].check("--port", port)
    if (
        not host
        or len(host) > 253
        or not host.isascii()
        or not host.isprintable()
        or any(c.isspace() for c in host)
    ):
        raise InputError(
            f"--host: {shown(host)} is not an address or host name; use 127.0.0.1 (the "
            "default), ::1, 0.0.0.0 or a name such as localhost"
        )


ENV_FILE_RESERVE = 16  # atomic_write's temp name beside it: ".NAME.XXXXXXXX.tmp"


def env_lines(info: Mapping[str, Any]) -> str:
    """Shell lines that point AWS clients at the emulator as its management account, each
    value quoted for sh. AWS_REGION is what newer SDKs read, AWS_DEFAULT_REGION what the
    AWS CLI and boto3 read. A session token left in the shell would be sent with these keys
    and refused, so it is unset."""
    values = {
        "AWS_ENDPOINT_URL": info["url"],
        "AWS_ACCESS_KEY_ID": info["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": info["secret_access_key"],
        "AWS_REGION": info["region"],
        "AWS_DEFAULT_REGION": info["region"],
    }
    lines = [f"export {name}={shlex.quote(str(value))}" for name, value in values.items()]
    return "\n".join([*lines, "unset AWS_SESSION_TOKEN", ""])


@dataclass(frozen=True)
class Ready:
    """What the emulator says once it listens, and where (stdout by default)."""

    print_env: bool
    env_file: str | None

    def announce(self, info: Mapping[str, Any]) -> None:
        line = orjson.dumps(info).decode() + "\n"
        if self.env_file is not None:
            # mkstemp's temp file is 0600 and the rename keeps it: the secret key is never
            # readable by others, not even for a moment. Written before the ready line, so
            # whoever waits for that line finds the file whole.
            try:
                atomic_write(Path(self.env_file), env_lines(info).encode())
            except OSError as err:
                raise InputError(
                    f"--env-file: cannot write {shown(self.env_file)} ({err.strerror}); "
                    "choose another file"
                ) from None
        if self.print_env:
            sys.stderr.write(line)
            sys.stderr.flush()
            line = env_lines(info)
        sys.stdout.write(line)
        sys.stdout.flush()


async def _serve(settings: EmulatorSettings, ready: Ready) -> None:
    from trailsweep.emulator.server import Emulator  # loaded when used (start-up time)

    async with Emulator(settings) as emu:
        if not is_loopback(settings.host):
            # The ready line is the same on every bind (its readers parse one shape), so
            # say here that it now hands out keys that work from other machines.
            sys.stderr.write(
                f"trailsweep: emulator: listening beyond this machine (--allow-remote): "
                f"whoever reaches {emu.url} can call its AWS APIs with the ready line's keys "
                "and its control API with the ready line's control_token; keep stdout private\n"
            )
            sys.stderr.flush()
        ready.announce(emu.ready_info())
        await anyio.sleep_forever()
