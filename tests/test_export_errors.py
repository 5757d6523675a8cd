"""An export's errors: the library says what happened, the CLI adds what to do about it
(cli.app.advised), and the line the CLI prints is the one it always printed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trailsweep.base.errors import (
    CheckpointError,
    CheckpointMismatch,
    CheckpointNotSaved,
    CheckpointQueryInvalid,
    CompressedOutput,
    InputError,
    OutputFailed,
    TrailsweepError,
)
from trailsweep.cli.app import advised
from trailsweep.emulator import EmulatorThread
from trailsweep.output.sink import prepare_export
from trailsweep.settings.config import Options, build_config

from support import aws_env, run_cli, settings


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(settings(members=0, suspended=0)) as e:
        yield e


def test_a_compressed_output_is_refused_with_the_same_line(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    """The CLI's line for a .gz output, word for word; nothing is made."""
    out = tmp_path / "x.ndjson.gz"
    result = run_cli(["sweep", "--regions", "us-east-1", "--output", str(out)], env=aws_env(emu))
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "trailsweep: error: --output: x.ndjson.gz is compressed; trailsweep cannot resume a "
        "compressed file exactly, so write plain NDJSON (compress it afterwards) or pipe "
        "stdout\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_library_says_what_happened_without_flags(tmp_path: Path) -> None:
    """prepare_export's error names the file and the problem, no flag or command."""
    out = tmp_path / "x.ndjson.zst"
    cfg = build_config(Options(regions=["us-east-1"], output=str(out)), now=datetime.now(UTC))
    with pytest.raises(CompressedOutput) as raised:
        prepare_export(cfg, {}, None)
    assert str(raised.value) == (
        "x.ndjson.zst is compressed; trailsweep cannot resume a compressed file exactly"
    )
    assert isinstance(raised.value, InputError) and raised.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("error", "line", "kind", "code"),
    [
        (
            CheckpointMismatch(
                "o.checkpoint.json belongs to another sweep (x: 1 -> 2)", output="o.ndjson"
            ),
            "o.checkpoint.json belongs to another sweep (x: 1 -> 2); run the original command "
            "(or `trailsweep sweep --resume o.ndjson`) to finish it, or add --overwrite to "
            "start over",
            CheckpointError,
            2,
        ),
        (
            CheckpointQueryInvalid("the checkpoint's query is not valid"),
            "the checkpoint's query is not valid; start over",
            CheckpointError,
            2,
        ),
        (
            CheckpointNotSaved(
                "cannot save the checkpoint c.json: no space left on device; the previous one "
                "is kept"
            ),
            "cannot save the checkpoint c.json: no space left on device; the previous one is "
            "kept: make room and run the same command again to resume",
            OutputFailed,
            1,
        ),
        (InputError("--page-size: from 1 to 50"), "--page-size: from 1 to 50", InputError, 2),
    ],
)
def test_the_cli_adds_the_advice_the_library_leaves_out(
    error: TrailsweepError, line: str, kind: type[TrailsweepError], code: int
) -> None:
    """Each export error keeps its class in the tree and its exit code; the CLI's line is
    the library's message and the advice, as the CLI printed it before they were apart."""
    assert isinstance(error, kind) and error.exit_code == code
    assert advised(error) == line
    assert str(error) in line
