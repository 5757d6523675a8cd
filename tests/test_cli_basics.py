"""What users expect of any CLI: --version, shell completion, help that ends with examples
that work, and errors that name what the user wrote."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import cast

import click
import pytest
import typer

import trailsweep
from trailsweep.cli.app import app, spread_lists
from trailsweep.cli.examples import EXAMPLES
from trailsweep.emulator import EmulatorThread

from inproc import run_here
from support import aws_env, run_cli, settings

ROOT = Path(__file__).parents[1]
COMMANDS = sorted(cast(click.Group, typer.main.get_command(app)).commands)


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_the_package_metadata_version(flag: str) -> None:
    """`trailsweep --version` and `-V` print `trailsweep X.Y.Z` from the installed metadata."""
    result = run_cli([flag])
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == f"trailsweep {version('trailsweep')}\n"
    assert result.stderr == b""


def test_version_is_written_once_in_pyproject() -> None:
    """pyproject.toml holds the version; trailsweep.__version__ is derived from it."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert trailsweep.__version__ == version("trailsweep") == declared
    stray = [p for p in (ROOT / "src").rglob("*.py") if f'"{declared}"' in p.read_text()]
    assert stray == []


def _completion_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("_TRAILSWEEP")}
    env.update(extra)
    return env


def test_show_completion_prints_a_bash_script_for_the_calling_shell() -> None:
    """--show-completion, run from bash (Typer finds the shell among the parents), prints a
    script that calls trailsweep back for completions."""
    command = f"{shlex.quote(sys.executable)} -m trailsweep --show-completion; true"
    result = subprocess.run(
        ["bash", "-c", command], env=_completion_env(), capture_output=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    script = result.stdout.decode()
    assert "_TRAILSWEEP_COMPLETE=complete_bash" in script
    assert "complete -o default -F _trailsweep_completion trailsweep" in script


def test_install_completion_writes_the_script_for_bash(tmp_path: Path) -> None:
    """--install-completion, run from bash, installs the script under HOME and sources it
    from ~/.bashrc (HOME is a temporary directory here)."""
    command = f"{shlex.quote(sys.executable)} -m trailsweep --install-completion; true"
    result = subprocess.run(
        ["bash", "-c", command], env=_completion_env(HOME=str(tmp_path)), capture_output=True,
        timeout=60, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    scripts = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != ".bashrc"]
    assert any("_TRAILSWEEP_COMPLETE=complete_bash" in p.read_text() for p in scripts)
    assert "trailsweep" in (tmp_path / ".bashrc").read_text()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_from_the_environment(shell: str) -> None:
    """`_TRAILSWEEP_COMPLETE=source_SHELL trailsweep` prints the script, as click's does."""
    result = run_cli([], env=_completion_env(_TRAILSWEEP_COMPLETE=f"source_{shell}"))
    assert result.returncode == 0, result.stderr.decode()
    script = result.stdout.decode()
    assert f"_TRAILSWEEP_COMPLETE=complete_{shell}" in script
    assert "trailsweep" in script


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [("trailsweep sw", "1", "sweep"), ("trailsweep sweep --acc", "2", "--accounts")],
)
def test_completion_completes_commands_and_options(words: str, cword: str, expected: str) -> None:
    """What the bash script asks (COMP_WORDS, COMP_CWORD) is answered by trailsweep."""
    env = _completion_env(_TRAILSWEEP_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=cword)
    result = run_cli([], env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert expected in result.stdout.decode().split()


def _help(command: str, columns: int) -> list[str]:
    result = run_cli([command, "--help"], env={**os.environ, "COLUMNS": str(columns)})
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().splitlines()


@pytest.mark.parametrize("command", COMMANDS)
def test_help_ends_with_examples_one_line_each(command: str) -> None:
    """Every command's --help ends with an Examples section: per example a sentence, then
    its lines, each on a line of its own (indented 6), however narrow the terminal."""
    assert command in EXAMPLES, f"{command} has no examples"
    lines = _help(command, columns=50)
    heading = [i for i, line in enumerate(lines) if line.strip() == "Examples:"]
    assert len(heading) == 1
    section = "\n".join(lines[heading[0] + 1 :])
    for example in EXAMPLES[command]:
        sentence, section = _split_at_first(section, "\n      ")
        assert " ".join(sentence.split()) == example.what
        block = section.split("\n\n", 1)
        assert block[0].splitlines() == ["      " + line for line in example.lines]
        section = block[1] if len(block) > 1 else ""
    assert section.strip() == ""  # the examples end the help


def _split_at_first(text: str, marker: str) -> tuple[str, str]:
    head, _, tail = text.partition(marker)
    return head, marker.lstrip("\n") + tail


def test_emulator_help_keeps_its_shell_lines_apart() -> None:
    """The emulator's example lines (one command each) are not run into one paragraph."""
    lines = [line.strip() for line in _help("emulator", columns=80)]
    for expected in (
        "trailsweep emulator --env-file emu.env &",
        ". ./emu.env",
        "aws cloudtrail lookup-events --max-items 10",
        "trailsweep emulator --print-env > emu.env",
    ):
        assert expected in lines


def _example_commands() -> list[tuple[str, list[str]]]:
    """Every `trailsweep` line of the examples as argv, continuations joined, a trailing
    `&` or `> FILE` left to the shell."""
    out = []
    for command, examples in EXAMPLES.items():
        for example in examples:
            text = "\n".join(example.lines).replace(" \\\n", " ")
            for line in text.splitlines():
                if line.startswith("trailsweep "):
                    words = shlex.split(line)
                    if words[-1] == "&":
                        words = words[:-1]
                    if len(words) > 2 and words[-2] == ">":
                        words = words[:-2]
                    out.append((command, words[1:]))
    return out


@pytest.mark.parametrize(
    "argv", [pytest.param(argv, id=" ".join(argv)[:60]) for _, argv in _example_commands()]
)
def test_every_example_parses_as_a_command_line(argv: list[str]) -> None:
    """Each example is a command trailsweep's own parser accepts (options exist, values
    have their types)."""
    group = cast(click.Group, typer.main.get_command(app))
    root = group.make_context("trailsweep", [argv[0]], resilient_parsing=True)
    sub = group.get_command(root, argv[0])
    assert sub is not None
    sub.make_context(argv[0], spread_lists(argv[1:]), parent=root)


def test_examples_run_against_the_emulator(tmp_path: Path) -> None:
    """The examples that need no fixed account ids or files of the user's run against the
    emulator, in order, as written: each exits 0 and prints what it promises. In this
    process (inproc.run_here): what is tested is each command's answer; the CLI as a
    process is tested by the --help tests above."""
    runnable = {
        "sweep --accounts org --regions all --start-time 1d -o day.ndjson",
        "status day.ndjson",
        "status day.ndjson --json",
        "lookup-events --generate-cli-skeleton yaml-input",
        "lookup-events --start-time 1d --output table --query Events[].[EventName, Username]",
        "lookup-events --max-items 10 --lookup-attributes "
        "AttributeKey=EventName,AttributeValue=ConsoleLogin",
    }
    chosen = [argv for _, argv in _example_commands() if " ".join(argv) in runnable]
    assert len(chosen) == len(runnable)
    with EmulatorThread(settings(faults={"rate": 1000.0, "burst": 1000.0})) as emu:
        env = aws_env(emu)
        for argv in chosen:
            result = run_here(argv, env=env, cwd=str(tmp_path))
            assert result.returncode == 0, (argv, result.stderr.decode())
            assert result.stdout.strip() or argv[0] == "sweep", argv
    assert (tmp_path / "day.ndjson").stat().st_size > 0


@pytest.mark.parametrize(
    ("command", "skeleton_flag", "input_flag"),
    [
        ("lookup-events", "yaml-input", "--cli-input-yaml"),
        ("lookup-events", "input", "--cli-input-json"),
        ("sweep", "input", "--cli-input-json"),
    ],
)
def test_unedited_skeleton_error_names_the_key_written(
    tmp_path: Path, command: str, skeleton_flag: str, input_flag: str
) -> None:
    """An unedited skeleton (MaxResults 0) is refused naming MaxResults in the input, not
    --page-size, which the user never typed; a --page-size flag that overrides it is
    named as the flag."""
    made = run_here([command, "--generate-cli-skeleton", skeleton_flag])
    assert made.returncode == 0
    path = tmp_path / "in.txt"
    path.write_bytes(made.stdout)
    # No server anywhere: the refusal comes before any call.
    env = {**os.environ, "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
           "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}  # fmt: skip
    result = run_here([command, input_flag, f"file://{path}"], env=env, cwd=str(tmp_path))
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.count("\n") == 1
    assert f"{input_flag} MaxResults: 0 is out of range; give a whole number from 1 to 50" in err
    assert "--page-size" not in err
    flagged = run_here(
        [command, input_flag, f"file://{path}", "--page-size", "99"], env=env, cwd=str(tmp_path)
    )
    assert flagged.returncode == 2
    assert "--page-size: 99 is out of range" in flagged.stderr.decode()
