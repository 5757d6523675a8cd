"""The flags that say how a sweep runs and where it writes, each only where it means
something: incremental runs and following (`--state`, `--lookback`, `--follow`,
`--poll-interval`, `--settle`) and `--output-dir` parts (`--part-size`, `--part-age`,
`--compress`). `config.SweepSettings` checks them with the rest of its values."""

from __future__ import annotations

from typing import Any

from trailsweep.base.errors import InputError
from trailsweep.settings.options import Options
from trailsweep.settings.part_options import (
    DEFAULT_PART_SIZE,
    check_compress,
    parse_part_age,
    parse_part_size,
)
from trailsweep.settings.s3_url import parts_place


def check_follow(opts: Options) -> None:
    """The flags of incremental runs and following, each only where it means something."""
    if opts.lookback is not None and not (opts.state or opts.follow):
        raise InputError("--lookback goes with --state or --follow; add one, or drop it")
    if not opts.follow:
        for name, value in (("--poll-interval", opts.poll_interval), ("--settle", opts.settle)):
            if value:
                raise InputError(f"{name} goes with --follow; add --follow, or drop it")
        return
    if opts.output is not None and opts.output != "-":
        raise InputError(
            "--follow writes to stdout or --output-dir parts (a file holds one sweep: "
            "--output FILE); or drop --follow for an incremental run with --state"
        )

    for name, value in (("--end-time", opts.end_time), ("--max-items", opts.max_items)):
        if value is not None:
            raise InputError(f"{name} ends a sweep; a follower runs until stopped: drop it")


def parts_fields(opts: Options) -> dict[str, Any]:
    """The --output-dir fields of SweepSettings; the part options only with --output-dir,
    and --output-dir not with --output (one sweep writes one place)."""
    if opts.output_dir is None:
        for name in ("part_size", "part_age", "compress"):
            if getattr(opts, name) is not None:
                flag = "--" + name.replace("_", "-")
                raise InputError(
                    f"{flag} goes with --output-dir DIR (NDJSON in parts); add --output-dir, "
                    f"or drop {flag}"
                )
        return {}
    if opts.output is not None:
        raise InputError(
            "--output and --output-dir both name where the sweep writes; give one: --output "
            "FILE for one file, --output-dir DIR for parts"
        )
    return {
        **parts_place(opts.output_dir, state=opts.state, follow=bool(opts.follow)),
        "part_size": DEFAULT_PART_SIZE if opts.part_size is None
        else parse_part_size(opts.part_size),
        "part_age": None if opts.part_age is None else parse_part_age(opts.part_age),
        "compress": None if opts.compress is None else check_compress(opts.compress),
    }  # fmt: skip
