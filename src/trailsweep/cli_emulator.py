"""`trailsweep emulator`: serve the CloudTrail emulator until Ctrl-C."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import anyio
import orjson
import typer

from trailsweep.emulator.settings import DEFAULT_REGIONS, EmulatorSettings, Faults
from trailsweep.errors import InputError
from trailsweep.limits import EMULATOR, check_emulator, split_list
from trailsweep.names import shown
from trailsweep.timeparse import parse_time


def emulator_command(
    port: Annotated[int, typer.Option(help="TCP port; 0 picks a free one.")] = 0,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Same seed, same organization and events.")] = 7,
    now: Annotated[
        str | None,
        typer.Option(help="Pin the data clock (ISO 8601, UTC). Default: the start time."),
    ] = None,
    realtime: Annotated[bool, typer.Option(help="Let the data clock advance.")] = False,
    members: Annotated[int, typer.Option(help="Member accounts besides management.")] = 5,
    suspended: Annotated[int, typer.Option(help="How many members are SUSPENDED.")] = 1,
    regions: Annotated[
        str, typer.Option(help="Comma-separated regions enabled in every account.")
    ] = ",".join(DEFAULT_REGIONS),
    events_per_day: Annotated[float, typer.Option(help="Mean events/day of a normal pair.")] = 200,
    skew: Annotated[float, typer.Option(help="Busiest over quietest pair volume.")] = 100,
    rate: Annotated[float, typer.Option(help="LookupEvents quota, calls/s per pair.")] = 2.0,
    burst: Annotated[float, typer.Option(help="Quota bucket size, calls.")] = 2.0,
    latency_ms: Annotated[float, typer.Option(help="Added latency per call.")] = 0.0,
    jitter_ms: Annotated[float, typer.Option(help="Random extra latency 0..N ms.")] = 0.0,
    error_rate: Annotated[float, typer.Option(help="Share of calls answered 5xx.")] = 0.0,
    reset_rate: Annotated[float, typer.Option(help="Share of calls reset.")] = 0.0,
    token_ttl: Annotated[float, typer.Option(help="NextToken lifetime, seconds.")] = 3600.0,
    credential_ttl: Annotated[float, typer.Option(help="AssumeRole lifetime, seconds.")] = 3600.0,
) -> None:
    """Serve a CloudTrail LookupEvents emulator (with STS, Organizations, EC2 DescribeRegions
    and Account ListRegions) on one port, until Ctrl-C.

    It prints one ready line on stdout, a JSON object with url, access_key_id,
    secret_access_key, region and account. Point any AWS client at it:

        export AWS_ENDPOINT_URL=<url> AWS_ACCESS_KEY_ID=<access_key_id>
        export AWS_SECRET_ACCESS_KEY=<secret_access_key> AWS_DEFAULT_REGION=<region>
        aws cloudtrail lookup-events --max-items 10

    Data is generated from the seed and the pinned clock, so the same flags always serve
    the same events. Control API for tests: GET <url>/_emulator/world, /stats, /faults, /truth.
    """
    pinned = (
        parse_time(now, now=datetime.now(UTC), option="--now")
        if now
        else datetime.now(UTC).replace(microsecond=0)
    )
    region_list = tuple(r.strip() for r in split_list("--regions", regions))
    _check_listen(host, port)
    numbers = {
        "seed": seed, "members": members, "suspended": suspended,
        "events_per_day": events_per_day, "skew": skew, "rate": rate, "burst": burst,
        "latency_ms": latency_ms, "jitter_ms": jitter_ms, "error_rate": error_rate,
        "reset_rate": reset_rate, "token_ttl": token_ttl, "credential_ttl": credential_ttl,
    }  # fmt: skip
    check_emulator(numbers, "--")  # ranges and reasons: limits.EMULATOR
    if suspended > members:
        raise InputError(f"--suspended: {suspended} is more than --members ({members})")
    settings = EmulatorSettings(
        seed=seed, now=pinned, realtime=realtime, members=members, suspended=suspended,
        regions=region_list, events_per_day=events_per_day, skew=skew, host=host, port=port,
        faults=Faults(
            rate=rate, burst=burst, latency_ms=latency_ms, jitter_ms=jitter_ms,
            error_rate=error_rate, reset_rate=reset_rate, token_ttl=token_ttl,
            credential_ttl=credential_ttl,
        ),
    )  # fmt: skip
    try:
        anyio.run(_serve, settings)
    except KeyboardInterrupt:
        # Ctrl-C is how the emulator is meant to end (it serves "until Ctrl-C"): a
        # stop as documented is a success, said in one line, as servers such as uvicorn do.
        sys.stderr.write("trailsweep: emulator stopped\n")
        return
    except (OSError, UnicodeError) as err:  # UnicodeError: a host name IDNA refuses
        reason = err.strerror if isinstance(err, OSError) else "not a valid host name"
        raise InputError(
            f"emulator: cannot listen on {shown(host)}:{port} ({reason}); "
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


async def _serve(settings: EmulatorSettings) -> None:
    from trailsweep.emulator.server import Emulator  # loaded when used (start-up time)

    async with Emulator(settings) as emu:
        sys.stdout.write(orjson.dumps(emu.ready_info()).decode() + "\n")
        sys.stdout.flush()
        await anyio.sleep_forever()
