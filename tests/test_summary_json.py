"""`--summary-json`: every field of the README's table is there, with the table's type and
the values the emulator's truth says; and the table lists exactly the fields written."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from trailsweep.emulator import EmulatorThread
from trailsweep.settings.timeparse import format_time, from_epoch

from inproc import run_here
from support import NOW_EPOCH, aws_env, settings

ROOT = Path(__file__).parents[1]
START, END = NOW_EPOCH - 2 * 3600, NOW_EPOCH - 1
REGIONS = ("us-east-1", "eu-west-1")
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "null": (type(None),),
}


def readme_table() -> dict[str, str]:
    """field -> type, from the README's table under "The `--summary-json` document"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### The `--summary-json` document", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \|", section, flags=re.M)
    assert rows, "no field table in the README's --summary-json section"
    return {name: kind.strip() for name, kind in rows}


def flatten(doc: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted name, value); the objects of `pairs` as `pairs[].field`. Every other value
    (`failures` included, which the table describes as a whole) is one field."""
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from flatten(value, f"{name}.")
        elif key == "pairs" and not prefix:
            for item in value:
                yield from flatten(item, f"{name}[].")
        else:
            yield name, value


def type_ok(value: Any, kind: str) -> bool:
    allowed = tuple(t for word in re.split(r", | or ", kind) for t in TYPES[word])
    if isinstance(value, bool) and bool not in allowed:
        return False  # a bool is an int in Python; not in JSON
    return isinstance(value, allowed)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Any]:
    """One sweep of 2 accounts x 2 regions with one member's eu-west-1 disabled: exit 1."""
    tmp = tmp_path_factory.mktemp("summary")
    with EmulatorThread(settings(members=1, suspended=0, faults={"rate": 50.0})) as emu:
        member = emu.emulator.world.accounts[1].id
        emu.set_faults(disabled_regions={member: ["eu-west-1"]})
        summary = tmp / "summary.json"
        result = run_here(
            ["sweep", "--accounts", "org", "--regions", ",".join(REGIONS),
             "--start-time", format_time(from_epoch(START)),
             "--end-time", format_time(from_epoch(END)), "--rate", "50",
             "-o", str(tmp / "out.ndjson"), "--summary-json", str(summary)],
            env=aws_env(emu),
        )  # fmt: skip
        truth = {
            (a.id, r): len(emu.truth(a.id, r, start=START, end=END))
            for a in emu.emulator.world.accounts
            for r in REGIONS
        }
    assert result.returncode == 1, result.stderr.decode()
    assert os.stat(summary).st_mode & 0o777 == 0o600
    return orjson.loads(summary.read_bytes()), (member, truth)


def test_every_documented_field_has_its_type_and_the_truths_values(
    swept: tuple[dict[str, Any], Any],
) -> None:
    doc, (member, truth) = swept
    table = readme_table()
    fields = list(flatten(doc))
    for name, value in fields:
        assert name in table, f"{name} is written but not in the README's table"
        assert type_ok(value, table[name]), f"{name}: {value!r} is not {table[name]}"
    assert doc["schema"] == 1
    assert (doc["window"]["start"], doc["window"]["end"]) == (
        format_time(from_epoch(START)),
        format_time(from_epoch(END)),
    )
    assert doc["settings"]["accounts"] == "org"
    assert sorted(doc["settings"]["regions"]) == sorted(REGIONS)
    assert doc["settings"]["rate"] == 50.0
    failed = (member, "eu-west-1")
    got = {(p["account"], p["region"]): p for p in doc["pairs"]}
    assert set(got) == set(truth)
    for pair, p in got.items():
        if pair == failed:
            assert (p["state"], p["complete"], p["events"]) == ("failed", False, 0)
            assert p["error"].startswith(
                f"UnrecognizedClientException: region eu-west-1 is not enabled in account {member} "
            ), p["error"]
        else:
            assert (p["state"], p["complete"], p["error"]) == ("done", True, None), p
            assert p["events"] == truth[pair] > 0
            assert p["calls"] >= 1
    assert doc["failures"] == [got[failed]]
    assert (doc["pairs_total"], doc["done"], doc["failed"]) == (4, 3, 1)
    assert doc["events"] == sum(n for pair, n in truth.items() if pair != failed)
    assert doc["calls"] == sum(p["calls"] for p in doc["pairs"])
    assert doc["throttled"] == sum(p["throttled"] for p in doc["pairs"])
    assert (doc["exit_code"], doc["interrupted"]) == (1, False)


def test_readme_table_and_written_fields_agree(swept: tuple[dict[str, Any], Any]) -> None:
    """The docs cannot drift: every row of the table is written, every field written has
    a row; and each object of `failures` has exactly the fields of a `pairs[]` object."""
    doc, _ = swept
    written = {name for name, _ in flatten(doc)}
    assert written == set(readme_table())
    pair_fields = {name.removeprefix("pairs[].") for name in written if name.startswith("pairs[]")}
    assert doc["failures"] and all(set(f) == pair_fields for f in doc["failures"])
