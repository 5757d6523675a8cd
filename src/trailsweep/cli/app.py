"""The command line: a thin Typer layer over the library.

Every command turns a `TrailsweepError` into one line on stderr and its exit code, and
click's usage errors into one line and exit 2, never a traceback. stdout carries data only.
"""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer

import trailsweep
from trailsweep.api.stream import unwrapped
from trailsweep.base.collector import tune_for_sweeping
from trailsweep.base.errors import (
    CheckpointMismatch,
    CheckpointNotSaved,
    CheckpointQueryInvalid,
    CompressedOutput,
    TrailsweepError,
    WorkerLost,
)
from trailsweep.base.sanitize import clean
from trailsweep.cli.demo import demo_command
from trailsweep.cli.emulator import emulator_command
from trailsweep.cli.examples import epilog
from trailsweep.cli.lookup import lookup_events_command
from trailsweep.cli.merge import merge_command
from trailsweep.cli.plan import plan_command
from trailsweep.cli.runner import raise_open_files
from trailsweep.cli.status import status_command
from trailsweep.cli.sweep import sweep_command

app = typer.Typer(
    name="trailsweep",
    help=(
        "Sweep AWS CloudTrail management events (LookupEvents) from every account and "
        "region of an organization into one newest-first NDJSON stream."
    ),
    no_args_is_help=True,
    # Typer's --install-completion / --show-completion; the script it prints calls
    # `trailsweep` back with _TRAILSWEEP_COMPLETE set, which main() passes through to click.
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"trailsweep {trailsweep.__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", is_eager=True, callback=_print_version,
            help="Print the version (trailsweep X.Y.Z) and exit.",
        ),
    ] = False,
) -> None:  # fmt: skip
    pass


# Each command's help ends with examples, as the AWS CLI's does (cli_examples.EXAMPLES).
app.command("sweep", help=sweep_command.__doc__, epilog=epilog("sweep"))(sweep_command)
app.command("lookup-events", help=lookup_events_command.__doc__, epilog=epilog("lookup-events"))(
    lookup_events_command
)
app.command("demo", help=demo_command.__doc__, epilog=epilog("demo"))(demo_command)
app.command("status", help=status_command.__doc__, epilog=epilog("status"))(status_command)
app.command("plan", help=plan_command.__doc__, epilog=epilog("plan"))(plan_command)
app.command("merge", help=merge_command.__doc__, epilog=epilog("merge"))(merge_command)
app.command(
    "emulator",
    help=emulator_command.__doc__,
    epilog=epilog("emulator"),
    context_settings={"max_content_width": 100},
)(emulator_command)


# Our own messages run long (a list of known keys) but never this long; a server's text
# inside one is already cut to sanitize.LIMIT where it came in.
_MESSAGE_LIMIT = 1000


def advised(err: TrailsweepError) -> str:
    """The line the CLI prints for `err`: what happened (the library's message) and, where
    the library cannot know the command that was run, what to do about it."""
    if isinstance(err, CompressedOutput):
        return f"--output: {err}, so write plain NDJSON (compress it afterwards) or pipe stdout"
    if isinstance(err, CheckpointMismatch):
        return (
            f"{err}; run the original command (or `trailsweep sweep --resume {err.output}`) to "
            "finish it, or add --overwrite to start over"
        )
    if isinstance(err, CheckpointQueryInvalid):
        return f"{err}; start over"
    if isinstance(err, CheckpointNotSaved):
        return f"{err}: make room and run the same command again to resume"
    if isinstance(err, WorkerLost):
        return f"{err}: run the same command again to resume (with --output or --output-dir)"
    return str(err)


def _fail(message: str, code: int) -> NoReturn:
    # One line, whatever it quotes: a server's words, a path, the user's own input.
    sys.stderr.write(f"trailsweep: error: {clean(message, _MESSAGE_LIMIT)}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _kinds(err: BaseException) -> set[str]:
    # Typer has shipped click both as a dependency and vendored (typer._click); match the
    # exception classes by name so either works.
    return {cls.__name__ for cls in type(err).__mro__}


_LISTS = ("--lookup-attributes", "--where")


def spread_lists(argv: list[str]) -> list[str]:
    """The AWS CLI takes list options as several words after one flag
    (`--lookup-attributes A B`); click takes a flag per value: repeat the flag."""
    out: list[str] = []
    flag = None
    for arg in argv:
        if arg in _LISTS:
            flag = arg
            out.append(arg)
            continue
        if flag is not None and out[-1] != flag and not arg.startswith("-"):
            out.extend((flag, arg))
            continue
        if arg.startswith("-"):
            flag = None
        out.append(arg)
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `trailsweep` command."""
    raise_open_files()  # the process's limit: the library sizes its pool inside it
    if argv is None:  # the process's own command, not a call from a program (or a test)
        tune_for_sweeping()  # the process's collector: base/collector.py
    command = typer.main.get_command(app)
    argv = spread_lists(sys.argv[1:] if argv is None else argv)
    try:
        with unwrapped():  # raised inside a task group, our errors arrive wrapped
            rc = command.main(args=argv, prog_name="trailsweep", standalone_mode=False)
    except TrailsweepError as err:
        _fail(advised(err), err.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as err:
        kinds = _kinds(err)
        ctx = getattr(err, "ctx", None)
        if "NoArgsIsHelpError" in kinds and ctx is not None:
            sys.stderr.write(ctx.get_help() + "\n")
            raise SystemExit(2) from None
        if "UsageError" in kinds:
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            _fail(f"{err.format_message()}{hint}", 2)  # type: ignore[attr-defined]
        if "ClickException" in kinds:
            _fail(err.format_message(), getattr(err, "exit_code", 1))  # type: ignore[attr-defined]
        if "Abort" in kinds:
            _fail("interrupted", 130)
        raise
    raise SystemExit(rc if isinstance(rc, int) else 0)
