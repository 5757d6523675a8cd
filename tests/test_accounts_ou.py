"""`--accounts` with OU ids (mixed with account ids) and `--exclude-accounts`, against the
emulator's organization tree: the accounts swept are computed here from the tree the
control API shows (/_emulator/world), and the output must be the emulator's truth for
exactly those accounts."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from trailsweep.emulator import EmulatorThread, services
from trailsweep.output.checkpoint_spec import spec_of
from trailsweep.settings.config import Options, build_config
from trailsweep.settings.options import options_from_mapping
from trailsweep.settings.timeparse import format_time, from_epoch

from inproc import run_here
from support import NOW, NOW_EPOCH, aws_env, control, expected_ndjson, settings

REGION = "us-east-1"
START, END = NOW_EPOCH - 2 * 3600, NOW_EPOCH - 1


@pytest.fixture(scope="module")
def org() -> Iterator[EmulatorThread]:
    """10 members dealt over the root and 4 OUs; the last 3 SUSPENDED, so (dealt in turn
    over 5 places) at least one of them is under Workloads whatever the seed."""
    with EmulatorThread(settings(members=10, suspended=3, regions=(REGION,))) as emu:
        yield emu


def _world(emu: EmulatorThread) -> dict[str, Any]:
    return cast(dict[str, Any], control(emu.emulator.ready_info(), "/_emulator/world"))


def _unit(world: dict[str, Any], name: str) -> str:
    return str(next(u["id"] for u in world["organization"]["units"] if u["name"] == name))


def _under(world: dict[str, Any], ou: str) -> set[str]:
    """Every account below `ou` at any depth, walked from the tree's parent links."""
    parents = {u["id"]: u["parent"] for u in world["organization"]["units"]}

    def below(place: str) -> bool:
        while place != ou:
            if place not in parents:
                return False
            place = parents[place]
        return True

    return {a for a, p in world["organization"]["parents"].items() if below(p)}


def _active(world: dict[str, Any]) -> set[str]:
    return {a["id"] for a in world["accounts"] if a["status"] == "ACTIVE"}


def _sweep(emu: EmulatorThread, out: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    window = ["--start-time", format_time(from_epoch(START))]
    window += ["--end-time", format_time(from_epoch(END))]
    args = ("sweep", *args, "--regions", REGION, *window, "-o", str(out))
    return run_here(list(args), env=aws_env(emu))


def _truth(emu: EmulatorThread, accounts: set[str]) -> bytes:
    return expected_ndjson(emu, [(a, REGION) for a in sorted(accounts)], start=START, end=END)


def test_nested_ou_sweeps_every_active_account_below_it(
    org: EmulatorThread, tmp_path: Path
) -> None:
    world = _world(org)
    workloads = _unit(world, "Workloads")
    below = _under(world, workloads)
    nested = _under(world, _unit(world, "Prod")) | _under(world, _unit(world, "Dev"))
    assert nested and nested < below  # Prod and Dev hold accounts, Workloads some of its own
    assert below - _active(world)  # a SUSPENDED account is below it: it must be left out
    want = below & _active(world)
    result = _sweep(org, tmp_path / "w.ndjson", "--accounts", workloads)
    assert result.returncode == 0, result.stderr.decode()
    out = (tmp_path / "w.ndjson").read_bytes()
    assert out == _truth(org, want)
    assert out.count(b"\n") > 10 * len(want)  # every account has events in the window


@pytest.mark.parametrize("case", ["ou_and_id_minus_id", "org_minus_ou"])
def test_mixed_ids_ous_and_exclusions(org: EmulatorThread, tmp_path: Path, case: str) -> None:
    world = _world(org)
    active = _active(world)
    if case == "ou_and_id_minus_id":
        prod = _unit(world, "Prod")
        security_member = sorted(_under(world, _unit(world, "Security")))[0]
        dropped = sorted(_under(world, prod) & active)[0]
        args = ["--accounts", f"{prod},{security_member}", "--exclude-accounts", dropped]
        want = (_under(world, prod) & active) - {dropped} | {security_member}
    else:
        workloads = _unit(world, "Workloads")
        args = ["--accounts", "org", "--exclude-accounts", f"{workloads},999999999999"]
        want = active - _under(world, workloads)
    assert len(want) >= 2
    result = _sweep(org, tmp_path / "m.ndjson", *args)
    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "m.ndjson").read_bytes() == _truth(org, want)


def _calls(emu: EmulatorThread) -> tuple[int, Counter[str]]:
    return emu.call(lambda: (emu.emulator.requests, Counter(services.calls(emu.emulator.world))))


@pytest.mark.parametrize(
    ("accounts", "extra", "needle"),
    [
        ("ou-AB12-cdefgh12", [], "'ou-AB12-cdefgh12' is not an OU id"),
        ("ou-ab12-cdef", [], "is not an OU id; an OU id is ou-"),
        ("org,111122223333", [], "'org' already holds every ACTIVE account"),
        ("111122223333", ["--exclude-accounts", "111122223333"], "excludes every account"),
        ("111122223333", ["--exclude-accounts", "ou-bad"], "--exclude-accounts: 'ou-bad'"),
        ("111122223333", ["--exclude-accounts", "org"], "--exclude-accounts: 'org' is not"),
    ],
)
def test_bad_selection_exits_2_before_any_call(
    org: EmulatorThread, tmp_path: Path, accounts: str, extra: list[str], needle: str
) -> None:
    before = _calls(org)
    result = _sweep(org, tmp_path / "x.ndjson", "--accounts", accounts, *extra)
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and needle in lines[0], lines
    assert _calls(org) == before  # not even GetCallerIdentity
    assert list(tmp_path.iterdir()) == []


def test_exclude_without_accounts_is_refused(org: EmulatorThread, tmp_path: Path) -> None:
    result = run_here(["sweep", "--exclude-accounts", "111122223333"], env=aws_env(org))
    assert result.returncode == 2
    assert result.stderr.decode().startswith("trailsweep: error: --exclude-accounts needs")


@pytest.mark.parametrize("where", ["--accounts", "--exclude-accounts"])
def test_unknown_ou_exits_2_naming_it(org: EmulatorThread, tmp_path: Path, where: str) -> None:
    """The OU is well formed but not the organization's: Organizations answers
    ParentNotFoundException, which is the user's input (exit 2), nothing written, no
    LookupEvents call."""
    unknown = "ou-zzzz-zzzzzzzz"
    args = [where, unknown] + (["--accounts", "org"] if where == "--exclude-accounts" else [])
    before = org.stats()["totals"]["calls"]
    result = _sweep(org, tmp_path / "u.ndjson", *args)
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert lines == [
        f"trailsweep: error: {where}: the organization has no OU {unknown} "
        "(ParentNotFoundException); "
        "check the id (aws organizations list-organizational-units-for-parent)"
    ]
    assert org.stats()["totals"]["calls"] == before
    assert not (tmp_path / "u.ndjson").exists()


def test_ou_with_every_account_excluded_exits_2(org: EmulatorThread, tmp_path: Path) -> None:
    world = _world(org)
    security = _unit(world, "Security")
    before = org.stats()["totals"]["calls"]
    result = _sweep(
        org, tmp_path / "e.ndjson", "--accounts", security, "--exclude-accounts", security
    )
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"trailsweep: error: --accounts {security} and --exclude-accounts leave no ACTIVE "
        "account; nothing to sweep\n"
    )
    assert org.stats()["totals"]["calls"] == before
    assert not (tmp_path / "e.ndjson").exists()


def test_config_keys_and_the_checkpoint_spec() -> None:
    """`accounts` and `exclude_accounts` in a config file; the spec records both as asked
    (sorted, distinct), so a resume asks the same question."""
    opts = options_from_mapping(
        {"accounts": ["ou-ab12-cdefgh12", "111122223333", "ou-ab12-cdefgh12"],
         "exclude_accounts": "222233334444,ou-ab12-zzzzzzzz"},
        "sweep.toml",
    )  # fmt: skip
    cfg = build_config(opts, now=NOW)
    spec = spec_of(cfg)
    assert spec["accounts"] == ["111122223333", "ou-ab12-cdefgh12"]
    assert spec["exclude_accounts"] == ["222233334444", "ou-ab12-zzzzzzzz"]
    plain = build_config(Options(accounts=["111122223333"]), now=NOW)
    assert "exclude_accounts" not in spec_of(plain)  # older checkpoints match
