"""How many Sigma CloudTrail rules fire on two days of an emulated organization.

A small evaluator of Sigma's detection syntax (selections as maps or lists of maps; the
modifiers contains, startswith, endswith, re, all, fieldref; conditions with and, or,
not, parentheses, `1 of x*`, `all of x*`), enough for the CloudTrail rules of SigmaHQ's
repository. The rules are read from the folder given; none ship with trailsweep.

    python benchmarks/sigma_rules.py RULES_DIR [--scenarios] [--days 2] [--members 4]

With --scenarios every planted attack is in the organization, and the high-severity
rules that fire on events outside the scenarios are named (there should be none).
"""

from __future__ import annotations

import argparse
import fnmatch
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from ruamel.yaml import YAML

from trailsweep.emulator import Emulator, EmulatorSettings
from trailsweep.emulator.settings import SCENARIO_NAMES

Rule = tuple[str, str, dict[str, Any]]  # file name, level, detection


def _field(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _matches(actual: Any, wanted: Any, mods: list[str], record: dict[str, Any]) -> bool:
    if wanted is None:
        return actual is None
    if "fieldref" in mods:
        return actual is not None and actual == _field(record, str(wanted))
    if actual is None:
        return False
    have, want = _text(actual), _text(wanted)
    if "re" in mods:
        return re.search(want, have) is not None
    have, want = have.lower(), want.lower()
    if "contains" in mods:
        return want in have
    if "startswith" in mods:
        return have.startswith(want)
    if "endswith" in mods:
        return have.endswith(want)
    return fnmatch.fnmatchcase(have, want) if "*" in want else have == want


def _selection(record: dict[str, Any], selection: Any) -> bool:
    if isinstance(selection, list):
        return any(_selection(record, s) for s in selection)
    if not isinstance(selection, dict):
        return False
    for key, wanted in selection.items():
        path, *mods = str(key).split("|")
        values = wanted if isinstance(wanted, list) else [wanted]
        actual = _field(record, path)
        test = all if "all" in mods else any
        if not test(_matches(actual, v, mods, record) for v in values):
            return False
    return True


def _condition(text: str, record: dict[str, Any], detection: dict[str, Any]) -> bool:
    tokens = re.findall(r"\(|\)|[^\s()]+", text)
    at = 0

    def take() -> str:
        nonlocal at
        at += 1
        return str(tokens[at - 1])

    def atom() -> bool:
        token = take()
        if token == "(":
            value = either()
            take()
            return value
        if token == "not":
            return not atom()
        if token in ("1", "all") and at < len(tokens) and tokens[at] == "of":
            take()
            pattern = take()
            names = [n for n in detection if n != "condition"]
            if pattern != "them":
                names = [n for n in names if fnmatch.fnmatch(n, pattern)]
            found = [_selection(record, detection[n]) for n in names]
            return any(found) if token == "1" else all(found)
        return _selection(record, detection[token])

    def both() -> bool:
        value = atom()
        while at < len(tokens) and tokens[at] == "and":
            take()
            value = atom() and value
        return value

    def either() -> bool:
        value = both()
        while at < len(tokens) and tokens[at] == "or":
            take()
            value = both() or value
        return value

    return either()


def rules(folder: Path) -> list[Rule]:
    """The CloudTrail rules of a folder of Sigma YAML files."""
    found = []
    for path in sorted(folder.glob("*.yml")):
        doc = YAML(typ="safe").load(path.read_text())
        if (doc.get("logsource") or {}).get("service") == "cloudtrail":
            found.append((path.name, str(doc.get("level")), dict(doc["detection"])))
    return found


def fired(rule_list: list[Rule], records: list[dict[str, Any]]) -> Counter[str]:
    """How many records each rule fires on."""
    counts: Counter[str] = Counter()
    for name, _, detection in rule_list:
        conditions = detection["condition"]
        for text in conditions if isinstance(conditions, list) else [conditions]:
            counts[name] += sum(1 for r in records if _condition(str(text), r, detection))
    return +counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rules", type=Path)
    parser.add_argument("--scenarios", action="store_true")
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--members", type=int, default=4)
    args = parser.parse_args()
    now = datetime(2026, 3, 4, 12, tzinfo=UTC)
    emu = Emulator(EmulatorSettings(
        seed=7, now=now, draw_origin=now, members=args.members, suspended=0,
        scenarios=SCENARIO_NAMES if args.scenarios else (),
    ))  # fmt: skip
    records = [
        orjson.loads(e["CloudTrailEvent"])
        for a in emu.world.accounts
        for region in emu.settings.regions
        for e in emu.truth(a.id, region, start=emu.data_now() - int(args.days * 86400))
    ]
    rule_list = rules(args.rules)
    level = {name: lvl for name, lvl, _ in rule_list}
    counts = fired(rule_list, records)
    print(f"{len(records)} records; rules by level: {dict(Counter(level.values()))}")
    print(f"rules that fire, by level: {dict(Counter(level[n] for n in counts))}")
    for name, n in sorted(counts.items()):
        print(f"  {level[name]:8} {name}: {n}")
    planted = {i for d in emu.scenario_documents() for i in d["EventIds"]}
    if planted:
        background = [r for r in records if r["eventID"] not in planted]
        high = [r for r in rule_list if r[1] in ("high", "critical")]
        print(f"high-severity rules firing outside the scenarios: {dict(fired(high, background))}")


if __name__ == "__main__":
    main()
