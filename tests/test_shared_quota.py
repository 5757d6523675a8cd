"""Many short pairs whose quota another caller shares, through the real CLI and HTTP: after
its first throttle (which nothing can avoid: nothing says the quota is shared until it
is throttled), a pair is not throttled again. Counted from the emulator's per-pair stats,
not timed (benchmarks/shared_quota.py measures the same at 0%, 50% and 90% taken)."""

from __future__ import annotations

from pathlib import Path

from trailsweep.emulator import EmulatorThread
from trailsweep.settings.timeparse import format_time, from_epoch

from support import NOW_EPOCH, aws_env, expected_ndjson, run_cli, settings

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1")
START, END = NOW_EPOCH - 3 * 3600, NOW_EPOCH - 1


def test_many_short_pairs_sharing_half_their_quota_are_throttled_about_once(
    tmp_path: Path,
) -> None:
    """40 pairs of about 5 pages, half of each quota taken: throttles beyond each pair's
    first stay under 4% of the calls. The goal is 2% (benchmarks/shared_quota.py measures
    0% on 100 pairs); the bound is twice that because what reaches the server when still
    depends on the machine's load (a busy event loop sends two calls closer together than
    the limiter let them go). Before the adaptation kept what the first throttle said,
    about 10% of the calls were such throttles. Every event still arrives, in order.

    One NextToken chain a pair (--no-slices): with several, the calls the other chains
    have in flight when the first throttle comes back were sent before the pair could
    know, and are throttled too; how many follows the latency, that is the machine's load
    (on a 2-core machine at load 20, latencies of 1 s gave 2 chains, and up to 7% of the
    calls). The benchmark runs with chains and counts them."""
    s = settings(
        members=9, suspended=0, regions=REGIONS, events_per_day=2000.0, skew=1.0,
        faults={"rate": 2.0, "burst": 2.0, "other_caller_share": 0.5},
    )  # fmt: skip
    with EmulatorThread(s) as emu:
        out = tmp_path / "out.ndjson"
        args = [
            "sweep", "--accounts", "org", "--regions", "all", "--no-progress", "--no-slices",
            "--start-time", format_time(from_epoch(START)),
            "--end-time", format_time(from_epoch(END)), "--output", str(out),
        ]  # fmt: skip
        result = run_cli(args, env=aws_env(emu))
        assert result.returncode == 0, result.stderr.decode()
        pairs = [(a.id, r) for a in emu.emulator.world.accounts for r in REGIONS]
        assert out.read_bytes() == expected_ndjson(emu, pairs, start=START, end=END)
        stats = emu.stats()["pairs"].values()
    calls = sum(p["calls"] for p in stats)
    throttled = [p["throttled"] for p in stats]
    beyond = sum(max(0, t - 1) for t in throttled)
    assert len(throttled) == 40
    assert beyond / calls < 0.04, (beyond, calls, throttled)
    assert calls >= 40 * 4, "pairs of several pages each"
    # The other caller really was there. How many pairs meet it follows the machine's
    # load, not the client: a pair whose one chain waits a second or more for each answer
    # never asks faster than the half quota left, so it is never throttled (10 of 40 met
    # it on a quiet machine, 4 at load 12, 3 at load 27). Without the other caller no
    # pair is throttled at all.
    assert any(throttled), throttled
