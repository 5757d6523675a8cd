"""`sweep --shard I/N` and `trailsweep plan`: the shards of a sweep hold its lines, each
in exactly one shard; the plan names the shard that writes each pair; the shard comes
from flags or from the engine's variables (Kubernetes, AWS Batch); a checkpoint or state
of one shard is refused for another."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import orjson
import pytest

import trailsweep
from trailsweep.api.follow import Follower
from trailsweep.api.incremental import fresh_state
from trailsweep.api.plan import Plan, plan_shards
from trailsweep.cli.app import main
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.settings.shard_input import resolve_shard
from trailsweep.settings.shards import Shard, account_start
from trailsweep.testing import ManualClock, RunningEmulator, running_emulator

from inproc import run_here
from support import NOW_EPOCH, HoldFirstPage, UseEmu, expected_line, expected_ndjson

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2")
ENGINE_VARIABLES = ("JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE")


@pytest.fixture(scope="module")
def org() -> Iterator[RunningEmulator]:
    """Six accounts of four, two, three and no listable regions ('all'): member 1 has two
    regions turned off (not us-east-1, where its regions are asked), member 2 one; member
    4's role cannot be assumed and the organization does not trust Account Management,
    so its regions cannot be listed (a failed '*' pair). The quota is lifted, and the
    sweeps' --rate raised to its top: a pair of a few pages finishes in one go (at the
    default 2 calls/s an export here took 8 s)."""
    with running_emulator(
        seed=22, members=5, suspended=0, regions=REGIONS, events_per_day=300.0,
        faults={"rate": 10_000.0, "burst": 10_000.0},
    ) as emu:  # fmt: skip
        members = emu.accounts[1:]
        emu.thread.set_faults(
            disabled_regions={members[0]: list(REGIONS[1:3]), members[1]: [REGIONS[3]]},
            unassumable_accounts=[members[3]],
            account_trusted_access=False,
        )
        yield emu


def _window(emu: RunningEmulator) -> tuple[int, int]:
    return emu.now - 3 * 3600, emu.now - 1


def _settings(emu: RunningEmulator, shard: str | None = None) -> trailsweep.SweepSettings:
    start, end = _window(emu)
    return trailsweep.SweepSettings.build(
        accounts="org", regions="all", start_time=str(start), end_time=str(end),
        shard=shard, rate=100.0, **emu.connection,
    )  # fmt: skip


def _export(emu: RunningEmulator, out: Path, shard: str | None = None) -> trailsweep.SweepReport:
    report: trailsweep.SweepReport = anyio.run(trailsweep.export, _settings(emu, shard), out)
    return report


def _plan(emu: RunningEmulator, shards: int) -> Plan:
    result: Plan = anyio.run(plan_shards, _settings(emu), shards)
    return result


def _truth(emu: RunningEmulator, pairs: list[tuple[str, str]]) -> bytes:
    start, end = _window(emu)
    return expected_ndjson(emu.thread, [p for p in pairs if p[1] != "*"], start=start, end=end)


def _every_pair(emu: RunningEmulator) -> list[tuple[str, str]]:
    """The matrix as the emulator's settings make it (not as the client discovers it)."""
    members = emu.accounts[1:]
    off = {members[0]: set(REGIONS[1:3]), members[1]: {REGIONS[3]}}
    pairs = [(members[3], "*")]
    for account in emu.accounts:
        if account != members[3]:
            pairs += [(account, r) for r in sorted(REGIONS) if r not in off.get(account, ())]
    return sorted(pairs)


@pytest.fixture(scope="module")
def whole(org: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The unsharded export, once for every N below (the emulator's data and the window
    are fixed, so each N's own export wrote these same bytes): the truth of every pair; its
    checkpoint has no shard key (its bytes are as before --shard)."""
    out = tmp_path_factory.mktemp("whole") / "whole.ndjson"
    report = _export(org, out)
    assert out.read_bytes() == _truth(org, _every_pair(org))
    assert report.exit_code == 1  # the account whose regions cannot be listed
    assert "shard" not in ckpt_mod.load(ckpt_mod.default_path(out)).spec
    return out.read_bytes()


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_the_shards_hold_each_line_of_the_whole_sweep_once(
    org: RunningEmulator, whole: bytes, tmp_path: Path, count: int
) -> None:
    """For N shards: each shard writes exactly its planned pairs' events (the truth of
    those pairs, newest first), every pair of the matrix is in one shard, and together
    they hold the unsharded sweep's lines (`whole`), each once. A checkpoint names its
    shard."""
    plan = _plan(org, count)
    assert sorted((r.account, r.region) for r in plan.rows) == _every_pair(org)
    assert plan.per_shard == [sum(r.shard == i for r in plan.rows) for i in range(count)]
    lines: Counter[bytes] = Counter()
    for index in range(count):
        out = tmp_path / f"shard-{index}.ndjson"
        got = _export(org, out, shard=f"{index}/{count}")
        planned = [(r.account, r.region) for r in plan.rows if r.shard == index]
        assert [(p.account, p.region) for p in got.pairs] == sorted(planned)
        assert out.read_bytes() == _truth(org, planned)
        assert got.exit_code == (1 if any(r == "*" for _, r in planned) else 0)
        stored = ckpt_mod.load(ckpt_mod.default_path(out))
        assert stored.finished and stored.spec["shard"] == f"{index}/{count}"
        lines.update(out.read_bytes().splitlines())
    assert lines == Counter(whole.splitlines())
    assert max(lines.values()) == 1


def test_plan_json_is_what_the_shards_sweep_and_calls_no_lookup_events(
    org: RunningEmulator,
) -> None:
    """`plan --format json` on stdout: the in-process plan, as the stated document; no
    LookupEvents call; the table has a line per pair and per shard."""
    args = ["plan", "--accounts", "org", "--regions", "all", "--shards", "3"]
    calls = org.thread.stats()["totals"]["calls"]
    ran = run_here([*args, "--format", "json"], env=org.env())
    assert ran.returncode == 0, ran.stderr.decode()
    doc = orjson.loads(ran.stdout)
    plan = _plan(org, 3)
    assert doc == {
        "shards": 3,
        "pairs": [{"account": r.account, "region": r.region, "shard": r.shard} for r in plan.rows],
        "per_shard": plan.per_shard,
    }
    shards = [p["shard"] for p in doc["pairs"]]
    assert shards == sorted(shards) and sum(doc["per_shard"]) == len(_every_pair(org))
    table = run_here(args, env=org.env())
    assert table.returncode == 0, table.stderr.decode()
    rows = [line.split() for line in table.stdout.decode().splitlines()]
    assert rows[0] == ["account", "region", "shard"]
    assert rows[1 : 1 + len(plan.rows)] == [[r.account, r.region, str(r.shard)] for r in plan.rows]
    assert rows[1 + len(plan.rows) :] == [[], ["shard", "pairs"]] + [
        [str(i), str(n)] for i, n in enumerate(plan.per_shard)
    ]
    assert org.thread.stats()["totals"]["calls"] == calls


def _engine_env(emu: RunningEmulator, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in emu.env().items() if k not in ENGINE_VARIABLES}
    return {**env, **variables}


def test_the_shard_comes_from_kubernetes_or_aws_batch_variables(
    org: RunningEmulator, tmp_path: Path
) -> None:
    """`--shard auto/3` in a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) and `--shard auto`
    in an AWS Batch array job (index and size) sweep the shard the plan gives that index."""
    plan = _plan(org, 3)
    start, end = (str(t) for t in _window(org))
    args = ["sweep", "--accounts", "org", "--regions", "all", "--start-time", start,
            "--end-time", end, "--rate", "100"]  # fmt: skip
    kubernetes = run_here(
        [*args, "--shard", "auto/3"], env=_engine_env(org, JOB_COMPLETION_INDEX="1")
    )
    one = [(r.account, r.region) for r in plan.rows if r.shard == 1]
    code = 1 if any(r == "*" for _, r in one) else 0
    assert kubernetes.returncode == code, kubernetes.stderr.decode()
    assert kubernetes.stdout == _truth(org, one) and one
    batch = _engine_env(org, AWS_BATCH_JOB_ARRAY_INDEX="2", AWS_BATCH_JOB_ARRAY_SIZE="3")
    out = tmp_path / "batch.ndjson"
    ran = run_here([*args, "--shard", "auto", "-o", str(out)], env=batch)
    two = [(r.account, r.region) for r in plan.rows if r.shard == 2]
    assert ran.returncode == (1 if any(r == "*" for _, r in two) else 0), ran.stderr.decode()
    assert out.read_bytes() == _truth(org, two)
    assert ckpt_mod.load(ckpt_mod.default_path(out)).spec["shard"] == "2/3"


ACCEPTED: list[tuple[str, dict[str, str], Shard]] = [
    ("3/8", {"JOB_COMPLETION_INDEX": "5"}, Shard(3, 8)),  # flags win: nothing is read
    ("auto/8", {"JOB_COMPLETION_INDEX": "5"}, Shard(5, 8)),
    ("auto/8", {"AWS_BATCH_JOB_ARRAY_INDEX": "7"}, Shard(7, 8)),
    ("auto/8", {"AWS_BATCH_JOB_ARRAY_INDEX": "7", "AWS_BATCH_JOB_ARRAY_SIZE": "8"}, Shard(7, 8)),
    ("auto", {"AWS_BATCH_JOB_ARRAY_INDEX": "0", "AWS_BATCH_JOB_ARRAY_SIZE": "2"}, Shard(0, 2)),
    ("auto", {"AWS_BATCH_JOB_ARRAY_INDEX": "4", "AWS_BATCH_JOB_ARRAY_SIZE": "10000",
              "JOB_COMPLETION_INDEX": "4"}, Shard(4, 10_000)),
    (" 0/1 ", {}, Shard(0, 1)),
]  # fmt: skip


@pytest.mark.parametrize(("text", "env", "shard"), ACCEPTED)
def test_the_engine_variables_give_the_shard(text: str, env: dict[str, str], shard: Shard) -> None:
    """Each accepted form, read from a mapping of variables (not this process's)."""
    assert resolve_shard(text, env) == shard


REFUSED: list[tuple[list[str], dict[str, str], str]] = [
    (["--shard", "auto"], {"JOB_COMPLETION_INDEX": "1"}, "Kubernetes does not give the count"),
    (["--shard", "auto/3"], {"JOB_COMPLETION_INDEX": "1", "AWS_BATCH_JOB_ARRAY_INDEX": "2"},
     "JOB_COMPLETION_INDEX=1 and AWS_BATCH_JOB_ARRAY_INDEX=2 disagree"),
    (["--shard", "auto"], {"JOB_COMPLETION_INDEX": "1", "AWS_BATCH_JOB_ARRAY_INDEX": "2",
                           "AWS_BATCH_JOB_ARRAY_SIZE": "3"}, "disagree"),
    (["--shard", "auto/3"], {"AWS_BATCH_JOB_ARRAY_INDEX": "1", "AWS_BATCH_JOB_ARRAY_SIZE": "4"},
     "AWS_BATCH_JOB_ARRAY_SIZE=4"),
    (["--shard", "auto/3"], {}, "neither JOB_COMPLETION_INDEX"),
    (["--shard", "auto"], {}, "AWS_BATCH_JOB_ARRAY_SIZE"),
    (["--shard", "auto"], {"AWS_BATCH_JOB_ARRAY_SIZE": "3"}, "no AWS_BATCH_JOB_ARRAY_INDEX"),
    (["--shard", "auto/3"], {"JOB_COMPLETION_INDEX": "3"}, "not below 3"),
    (["--shard", "auto"], {"AWS_BATCH_JOB_ARRAY_INDEX": "x", "AWS_BATCH_JOB_ARRAY_SIZE": "2"},
     "not a whole number"),
    (["--shard", "auto"], {"AWS_BATCH_JOB_ARRAY_INDEX": "0", "AWS_BATCH_JOB_ARRAY_SIZE": "0"},
     "is not a count from 1 to 10000"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "env", "needle"), REFUSED)
def test_engine_variables_missing_or_disagreeing_are_refused_before_any_call(
    org: RunningEmulator, use_emu: UseEmu, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
    args: list[str], env: dict[str, str], needle: str,
) -> None:  # fmt: skip
    """One line naming the variables and the fix, exit 2, no call, no file."""
    use_emu(org.thread)
    for name in ENGINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = org.thread.emulator.requests
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--accounts", "org", "-o", str(tmp_path / "out.ndjson"), *args])
    captured = capsys.readouterr()
    assert exit_info.value.code == 2, captured.err
    assert captured.err.startswith("trailsweep: error: --shard ") and captured.err.count("\n") == 1
    assert needle in captured.err and "--shard" in captured.err.split(";")[-1]
    assert captured.out == "" and org.thread.emulator.requests == before
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--shards", "0"], "--shards"), (["--shards", "10001"], "--shards"),
     (["--shards", "2", "--format", "xml"], "--format"), ([], "--shards"),
     (["--shards", "2", "--regions", "US_EAST_1"], "--regions")],
)  # fmt: skip
def test_plan_refuses_bad_input_before_any_call(
    org: RunningEmulator, use_emu: UseEmu, capsys: pytest.CaptureFixture[str],
    args: list[str], needle: str,
) -> None:  # fmt: skip
    use_emu(org.thread)
    before = org.thread.emulator.requests
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", *args])
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and captured.err.count("\n") == 1, captured.err
    assert needle in captured.err and captured.out == ""
    assert org.thread.emulator.requests == before


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`trailsweep ARGS` in this process: its exit code and stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    code = exit_info.value.code
    return code if isinstance(code, int) else -1, capsys.readouterr().err


def test_a_checkpoint_or_state_of_another_shard_is_refused(
    tmp_path: Path, use_emu: UseEmu, capsys: pytest.CaptureFixture[str]
) -> None:
    """Shard 0/2 killed mid-run: shard 1/2 (or no shard) into its output is refused with
    one line naming the shard, the output untouched; shard 0/2 again resumes it to its
    pairs' truth. A state of shard 0/2 is refused for shard 1/2 the same way."""
    regions = ("us-east-1", "eu-west-1", "ap-southeast-2")
    with running_emulator(
        seed=5, members=3, suspended=0, regions=regions, events_per_day=300.0,
        faults={"rate": 10_000.0, "burst": 10_000.0},
    ) as emu:  # fmt: skip
        start, end = emu.now - 3 * 3600, emu.now - 1
        out = tmp_path / "out.ndjson"
        args = ["sweep", "--accounts", "org", "--regions", ",".join(regions),
                "--start-time", str(start), "--end-time", str(end), "--rate", "100",
                "-o", str(out)]  # fmt: skip
        hold = HoldFirstPage()
        emu.thread.set_tamper(hold)
        first = subprocess.Popen(
            [sys.executable, "-m", "trailsweep", *args, "--shard", "0/2"],
            env=emu.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert hold.arrived.wait(timeout=60), "the run made no call"  # bounds a hang
        finally:
            first.kill()
            first.wait(timeout=30)
            emu.thread.call(hold.release.set)
            emu.thread.set_tamper(None)
        assert not ckpt_mod.load(ckpt_mod.default_path(out)).finished
        use_emu(emu.thread)
        before = out.read_bytes()
        for other, was in ((["--shard", "1/2"], "'1/2'"), ([], "None")):
            code, err = _main([*args, *other], capsys)
            assert code == 2 and err.count("\n") == 1, err
            assert f"shard was '0/2', now {was}" in err
            assert out.read_bytes() == before
        code, err = _main([*args, "--shard", "0/2"], capsys)
        assert code == 0, err
        plan = anyio.run(plan_shards, trailsweep.SweepSettings.build(
            accounts="org", regions=",".join(regions), **emu.connection), 2)  # fmt: skip
        mine = [(r.account, r.region) for r in plan.rows if r.shard == 0]
        assert out.read_bytes() == expected_ndjson(emu.thread, mine, start=start, end=end)
        state = ["--state", str(tmp_path / "run.state")]
        code, err = _main([*args[:-2], *state, "--shard", "0/2"], capsys)
        assert code == 0, err
        code, err = _main([*args[:-2], *state, "--shard", "1/2"], capsys)
        assert code == 2 and err.count("\n") == 1, err
        assert "shard was '0/2', now '1/2'" in err and "the same --shard" in err


def test_a_shard_with_no_pairs_is_a_complete_empty_run(
    org: RunningEmulator, tmp_path: Path
) -> None:
    """One account in one region, two shards: the other shard has nothing to sweep; it
    exits 0, writes an empty export and a finished checkpoint, and says 0 pairs."""
    account = org.accounts[0]
    empty = 1 - account_start(account, 2)
    out = tmp_path / "empty.ndjson"
    args = ["sweep", "--accounts", account, "--regions", "us-east-1", "--start-time", "1h",
            "--shard", f"{empty}/2"]  # fmt: skip
    calls = org.thread.stats()["totals"]["calls"]
    ran = run_here([*args, "-o", str(out)], env=org.env())
    assert ran.returncode == 0, ran.stderr.decode()
    assert out.read_bytes() == b"" and ran.stdout == b""
    assert "0 pairs" in ran.stderr.decode()
    stored = ckpt_mod.load(ckpt_mod.default_path(out))
    assert stored.finished and stored.pairs == []
    to_stdout = run_here(args, env=org.env())
    assert to_stdout.returncode == 0 and to_stdout.stdout == b"", to_stdout.stderr.decode()
    assert org.thread.stats()["totals"]["calls"] == calls


def test_a_config_file_gives_the_shard(tmp_path: Path) -> None:
    """`shard` in a TOML config: the shard of the settings; a bad one names the file."""
    config = tmp_path / "sweep.toml"
    config.write_text('accounts = "org"\nshard = "2/5"\n')
    assert trailsweep.SweepSettings.from_toml(config).shard == Shard(2, 5)
    config.write_text('shard = "5/5"\n')
    with pytest.raises(trailsweep.InputError, match="5/5 has no shard 5"):
        trailsweep.SweepSettings.from_toml(config)
    for bad in ('shard = "half"', "shard = 2"):
        config.write_text(bad + "\n")
        with pytest.raises(trailsweep.TrailsweepError, match=f"{config}: shard"):
            trailsweep.SweepSettings.from_toml(config)


def test_a_follower_of_a_shard_writes_its_pairs_events_once() -> None:
    """`--follow --shard I/2`: each follower writes, over 20 polls, exactly the events of
    its shard's pairs (the plan's) in its window, each once; virtual time (the follower's
    sleeps move the emulator's data clock), no sleep."""
    start = NOW_EPOCH
    clock = ManualClock(wall=start)
    regions = ("us-east-1", "eu-west-1", "ap-southeast-2")
    with running_emulator(
        seed=11, now=datetime.fromtimestamp(start, UTC), clock=clock, realtime=True,
        members=2, suspended=0, regions=regions, events_per_day=3000.0,
        faults={"credential_ttl": 3 * 86400.0},
    ) as emu:  # fmt: skip
        plan = anyio.run(plan_shards, trailsweep.SweepSettings.build(
            accounts="org", regions=",".join(regions), **emu.connection), 2)  # fmt: skip
        for index in range(2):
            first = int(clock.wall()) - 30 * 60
            settings = trailsweep.SweepSettings.build(
                accounts="org", regions=",".join(regions), start_time="30m", follow=True,
                shard=f"{index}/2", now=datetime.fromtimestamp(clock.wall(), UTC),
                **emu.connection,
            )  # fmt: skip
            assert settings.shard == Shard(index, 2)
            follower = Follower(settings, fresh_state(settings), clock=clock)
            written = _follow(follower, 20)
            assert follower.last_end is not None
            mine = [(r.account, r.region) for r in plan.rows if r.shard == index]
            expected: Counter[bytes] = Counter()
            for account, region in mine:
                for e in emu.truth(account, region, start=first, end=follower.last_end):
                    expected[expected_line(account, region, e)] += 1
            assert Counter(line + b"\n" for line in written.splitlines()) == expected
            assert expected and max(expected.values()) == 1


def _follow(follower: Follower, polls: int) -> bytes:
    """What `follower` writes in `polls` polls."""
    written: list[bytes] = []

    async def main() -> None:
        async with anyio.create_task_group() as tg:

            def after(f: Follower) -> None:
                if f.polls >= polls:
                    tg.cancel_scope.cancel()

            follower.on_poll = after
            tg.start_soon(follower.run, written.append, lambda: None)

    anyio.run(main)
    return b"".join(written)
