"""The real AWS CLI against the emulator (`make compat`; it needs the AWS CLI, which `make
compat` installs in .compat-venv, kept apart from ours). Not part of `make test`: CI has no
AWS CLI of its own, and a skipped test there would prove nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from trailsweep.emulator import EmulatorThread

from support import aws_env, settings

AWS = os.environ.get("TRAILSWEEP_AWS_CLI") or shutil.which("aws") or "aws"


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(settings(faults={"rate": 100.0, "burst": 100.0})) as e:
        yield e


def aws(emu: EmulatorThread, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [AWS, *args, "--output", "json"], env=aws_env(emu), capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    doc: dict[str, Any] = orjson.loads(result.stdout)
    return doc


def _times(doc: dict[str, Any]) -> list[int]:
    return [int(float(e["EventTime"])) for e in doc["Events"]]


def test_max_items_and_starting_token(emu: EmulatorThread) -> None:
    """--max-items 10, then --starting-token continues exactly where it stopped."""
    account = emu.emulator.world.management.id
    truth = emu.truth(account, "us-east-1")[:20]
    first = aws(emu, "cloudtrail", "lookup-events", "--max-items", "10")
    assert [e["EventId"] for e in first["Events"]] == [e["EventId"] for e in truth[:10]]
    second = aws(
        emu, "cloudtrail", "lookup-events", "--max-items", "10",
        "--starting-token", first["NextToken"],
    )  # fmt: skip
    assert [e["EventId"] for e in second["Events"]] == [e["EventId"] for e in truth[10:20]]


def test_lookup_attributes_shorthand(emu: EmulatorThread) -> None:
    """--lookup-attributes AttributeKey=Username,AttributeValue=... filters on the server."""
    account = emu.emulator.world.management.id
    want = emu.truth(account, "us-east-1", attribute=("Username", "alice"))[:25]
    got = aws(
        emu, "cloudtrail", "lookup-events", "--max-items", "25",
        "--lookup-attributes", "AttributeKey=Username,AttributeValue=alice",
    )  # fmt: skip
    assert [e["EventId"] for e in got["Events"]] == [e["EventId"] for e in want]
    assert want


def test_sts_and_organizations(emu: EmulatorThread) -> None:
    """get-caller-identity and list-accounts work too."""
    assert aws(emu, "sts", "get-caller-identity")["Account"] == emu.emulator.world.management.id
    accounts = aws(emu, "organizations", "list-accounts")["Accounts"]
    assert len(accounts) == len(emu.emulator.world.accounts)
