"""`trailsweep demo` prints NDJSON; the README starts with the two set-up commands; every
command has --help."""

from __future__ import annotations

import gzip
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest

from s3_support import MotoS3
from support import run_cli

ROOT = Path(__file__).parents[1]


def test_readme_starts_with_the_two_setup_commands() -> None:
    """The first code block of the README is `make demo` then `make test`."""
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split("#")[0].strip() for line in block] == ["make demo", "make test"]


def test_demo_prints_ordered_ndjson_from_several_accounts_and_regions() -> None:
    """The demo sweeps the embedded emulator: NDJSON on stdout, newest first, exit 0."""
    result = run_cli(["demo"], cwd=str(ROOT))
    assert result.returncode == 0, result.stderr.decode()
    events = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert len(events) == 25
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)
    assert all(e["CloudTrailEvent"]["eventID"] == e["EventId"] for e in events)
    assert "0 failed" in result.stderr.decode()
    # It is configs/demo.toml's organization: its regions, and every ACTIVE account (the
    # members and the management account, less the suspended ones) in each of them.
    emu = tomllib.loads((ROOT / "configs" / "demo.toml").read_text())["emulator"]
    assert {e["region"] for e in events} <= set(emu["regions"])
    pairs = (emu["members"] + 1 - emu["suspended"]) * len(emu["regions"])
    assert f"trailsweep: {pairs} pairs," in result.stderr.decode()


@pytest.mark.parametrize("command", [[], ["sweep"], ["emulator"], ["demo"]])
def test_every_command_has_help(command: list[str]) -> None:
    """--help explains each command and exits 0."""
    result = run_cli([*command, "--help"])
    assert result.returncode == 0
    assert b"Usage" in result.stdout
    assert len(result.stdout.splitlines()) > 5


def test_emulator_help_shows_aws_cli_usage() -> None:
    """The emulator's help tells how to point the AWS CLI at it."""
    result = run_cli(["emulator", "--help"])
    assert b"AWS_ENDPOINT_URL" in result.stdout
    assert b"lookup-events" in result.stdout


# An organization whose hours around a day before the emulator's clock hold no event: the
# README's "1d" window starts there whatever minute the test runs at (the draws count from
# support.NOW), so the example and the CLI, started seconds apart, ask the same question.
README_WORLD: dict[str, Any] = {
    "members": 1, "suspended": 0, "events_per_day": 6.0, "seed": 20, "faults": {"rate": 50.0},
}  # fmt: skip


def test_readme_python_example_gives_the_clis_ndjson_and_counts_it(tmp_path: Path) -> None:
    """The README's "From Python" example, run as written (pointed at an emulator by the
    environment), uses only names from `trailsweep`, writes the very NDJSON the CLI writes
    for the same settings, and its report counts what it yielded and what the emulator
    served."""
    import ast
    import subprocess
    import sys

    from trailsweep.emulator import EmulatorThread

    from support import NOW_EPOCH, aws_env, settings

    text = (ROOT / "README.md").read_text()
    code = text.split("## From Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    imported = {
        line.split()[1] for line in code.splitlines() if line.startswith(("import ", "from "))
    }
    assert imported == {"sys", "anyio", "trailsweep"}, imported
    script = tmp_path / "example.py"
    script.write_text(code)
    with EmulatorThread(settings(**README_WORLD)) as emu:
        pairs = [
            (a.id, r) for a in emu.emulator.world.accounts for r in emu.emulator.settings.regions
        ]
        edge = NOW_EPOCH - 86400
        assert not any(emu.truth(a, r, start=edge - 600, end=edge + 3 * 3600) for a, r in pairs)
        day = sum(len(emu.truth(a, r, start=edge, end=NOW_EPOCH)) for a, r in pairs)
        env = aws_env(emu)
        ran = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, timeout=120, check=False
        )
        served = emu.stats()["totals"]
        cli = run_cli(
            ["sweep", "--accounts", "org", "--regions", "all", "--start-time", "1d"], env=env
        )
    assert ran.returncode == 0, ran.stderr.decode()
    assert cli.returncode == 0, cli.stderr.decode()
    assert ran.stdout == cli.stdout
    lines = ran.stdout.splitlines()
    assert len(lines) == day > 10
    report = ast.literal_eval(ran.stderr.decode().splitlines()[-1])
    assert report["events"] == len(lines)
    assert (report["calls"], report["throttled"]) == (served["calls"], served["throttled"])
    assert (report["pairs"], report["failed"], report["exit_code"]) == (len(pairs), 0, 0)


def readme_commands() -> list[list[str]]:
    """Every `trailsweep sweep|lookup-events|status` line of the README's sh blocks, as
    argv (continuations joined, comments cut), with a `> FILE` redirect kept as its last
    two words; a pipe's later stages are left out (they need jq, duckdb)."""
    import re
    import shlex

    text = (ROOT / "README.md").read_text()
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if not line.startswith("trailsweep "):
                continue
            words = shlex.split(line, comments=True)
            if words[1] in ("sweep", "lookup-events", "status"):
                found.append(words[: words.index("|")] if "|" in words else words)
    return found


def test_every_readme_command_runs_against_the_emulator(tmp_path: Path, s3: MotoS3) -> None:
    """Each README command of sweep, lookup-events and status, in order, in one directory,
    against one emulator: exit 0 and the non-empty result it promises (events on stdout
    or in its --output file, a status line per pair, a filled YAML document)."""
    from trailsweep.emulator import EmulatorThread
    from trailsweep.emulator.settings import SCENARIO_NAMES

    from inproc import run_here
    from support import aws_env, settings

    commands = readme_commands()
    assert len(commands) >= 9, commands
    # With the planted attacks: the README's detection examples look for them.
    org = settings(members=3, suspended=0, scenarios=SCENARIO_NAMES, faults={"rate": 50.0})
    with EmulatorThread(org) as emu:
        env = aws_env(emu, AWS_ENDPOINT_URL_S3=s3.url)  # parts on S3 go to moto's server
        for words in commands:
            argv, into = (words[:-2], words[-1]) if words[-2:-1] == [">"] else (words, None)
            if argv[1] == "sweep":
                argv = [*argv, "--rate", "50"]  # the emulator's quota allows it: quicker
            if "--cli-input-yaml" in argv:  # "# edit, then:" -- the edit a user would make
                (tmp_path / "in.yaml").write_text(
                    "LookupAttributes:\n- AttributeKey: EventName\n  AttributeValue: ConsoleLogin\n"
                    "MaxResults: 50\n"
                )
            spool = [argv[i + 1] for i, w in enumerate(argv) if w == "--output-dir"]
            for directory in spool:  # the README's `mkdir -p` (or bucket) before it
                if directory.startswith("s3://"):
                    s3.make_bucket(directory.removeprefix("s3://").partition("/")[0])
                else:
                    (tmp_path / directory).mkdir(parents=True, exist_ok=True)
            # In this process (inproc.run_here): a dozen interpreter starts made this test
            # the suite's longest; what is tested is each command's answer, and the CLI as
            # a process is tested above (demo, --help) and in test_cli_basics.
            result = run_here(argv[1:], env=env, cwd=str(tmp_path))
            assert result.returncode == 0, (words, result.stderr.decode())
            out = result.stdout
            if spool:
                assert out == b""
                lines = _spooled(tmp_path, spool[0], s3).splitlines()
                assert lines and all(orjson.loads(line)["EventId"] for line in lines), words
                continue
            if into is not None:
                (tmp_path / into).write_bytes(out)
                assert b"LookupAttributes" in out, words
                continue
            files = [argv[i + 1] for i, w in enumerate(argv) if w in ("-o", "--output")]
            written = [f for f in files if f.endswith(".ndjson")]
            if written:
                assert out == b""
                lines = (tmp_path / written[0]).read_bytes().splitlines()
                assert lines and all(orjson.loads(line)["EventId"] for line in lines), words
            elif argv[1] == "status":
                assert b"finished" in out and out.count(b"\n") > 2, out
            else:
                assert len(out.strip().splitlines()) >= 3, (words, out[:500])
                assert b"Event" in out, words  # EventId, EventName, or the table title


def _spooled(tmp_path: Path, where: str, s3: MotoS3) -> bytes:
    """The NDJSON of the parts a README command wrote in a directory or on S3, end to end."""
    if not where.startswith("s3://"):
        return b"".join(p.read_bytes() for p in sorted((tmp_path / where).glob("*.ndjson")))
    bucket, _, prefix = where.removeprefix("s3://").partition("/")
    keys = [k for k in s3.keys(bucket, prefix + "/") if ".ndjson" in k]
    data = [(k, s3.get(bucket, k)) for k in keys]
    return b"".join(gzip.decompress(d) if k.endswith(".gz") else d for k, d in data)


def readme_pipelines() -> list[tuple[list[str], str]]:
    """Every `trailsweep sweep ... | ...` line of the README's sh blocks (continuations
    joined): the sweep as argv, and the rest of the pipeline as the shell would run it."""
    import re
    import shlex

    text = (ROOT / "README.md").read_text()
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("trailsweep sweep ") and " | " in line:
                sweep, rest = line.split(" | ", 1)  # the sweep's own words hold no " | "
                found.append((shlex.split(sweep), rest))
    return found


def test_every_readme_pipeline_prints_a_meaningful_result_on_the_demo_organization(
    tmp_path: Path,
) -> None:
    """Each README pipeline (a sweep piped into jq and the like), run on the demo's
    organization (configs/demo.toml, its planted attacks included): exit 0 and lines of
    values, none of them a placeholder ("?", null); the console-login one shows sign-ins
    with and without MFA, the detection ones only planted events."""
    import subprocess

    from trailsweep.emulator import EmulatorThread
    from trailsweep.emulator.settings import SCENARIO_NAMES

    from inproc import run_here
    from support import aws_env, settings

    pipelines = readme_pipelines()
    assert len(pipelines) >= 4, pipelines
    demo = dict(tomllib.loads((ROOT / "configs" / "demo.toml").read_text())["emulator"])
    demo["regions"] = tuple(demo["regions"])
    with EmulatorThread(settings(**demo, scenarios=SCENARIO_NAMES, faults={"rate": 50.0})) as emu:
        planted = {n for d in emu.emulator.scenario_documents() for n in d["EventNames"]}
        for argv, rest in pipelines:
            swept = run_here([*argv[1:], "--rate", "50"], env=aws_env(emu), cwd=str(tmp_path))
            assert swept.returncode == 0, (argv, swept.stderr.decode())
            piped = subprocess.run(
                ["bash", "-c", rest], input=swept.stdout, capture_output=True, check=False,
                timeout=60,
            )  # fmt: skip
            assert piped.returncode == 0, (rest, piped.stderr.decode())
            lines = piped.stdout.decode().strip().splitlines()
            assert lines, (argv, rest)
            assert not any(w in ("?", "null", '""') for ln in lines for w in ln.split()), lines
            if "MFAUsed]" in rest:
                assert {ln.split("\t")[-1] for ln in lines} == {"Yes", "No"}, lines
            if "--where" in argv and "eventName~" in " ".join(argv):
                assert {ln.split("\t")[3] for ln in lines} <= planted, lines
