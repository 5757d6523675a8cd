"""The documents in the repository hold to the code: the tests and files they name exist,
the invariants the code cites are the ones docs/design.md numbers, and nothing cites an
issue number or a document that is not in the repository."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SRC = ROOT / "src" / "trailsweep"
DESIGN = ROOT / "docs" / "design.md"
DOCUMENTS = [DESIGN, *(ROOT / name for name in ("ARCHITECTURE.md", "CONTRIBUTING.md"))]
# Where comments, docstrings, messages and documents live.
CITING = [
    *(p for d in ("src", "tests", "benchmarks", "compat", "configs", "docs")
      for p in sorted((ROOT / d).rglob("*")) if p.suffix in (".py", ".md", ".toml")),
    *(ROOT / name for name in ("README.md", "ARCHITECTURE.md", "CONTRIBUTING.md",
                               "CHANGELOG.md", "Makefile", "pyproject.toml")),
]  # fmt: skip

TEST_REF = re.compile(r"((?:tests|compat)/[\w/]+\.py)(?:::(\w+))?")
PATH_REF = re.compile(r"(?<![\w/<>.-])((?:[a-z_]+/)+[a-z_]+\.py)\b")
INVARIANT = re.compile(r"^### (\d+)\. ", re.MULTILINE)
CITED = re.compile(r"docs/design\.md\s+invariants?\s+(\d+)")
# Spelled in pieces so that this file does not cite what it looks for.
OUTSIDE = re.compile(
    "|".join(
        [
            r"\biss" r"ues?\s+#?\d+",  # an issue number
            r"\(iss" r"ue\b",  # one in parentheses, numbered or not
            r"\bsha" r"red/",  # the documents kept beside the repository
            r"\bDES" r"IGN\.md",  # those documents by name (ours is docs/design.md)
            r"\bSTY" r"LE\.md",
            r"\bLOOKUP_" r"EVENTS\.md",
        ]
    )
)


@cache
def _test_names(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text())
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_test_a_document_names_exists(document: Path) -> None:
    """`tests/x.py::test_y` in a document is a test of that file; `tests/x.py` a file."""
    refs = TEST_REF.findall(document.read_text())
    missing = [
        f"{file}::{name}" if name else file
        for file, name in refs
        if not (ROOT / file).is_file() or (name and name not in _test_names(ROOT / file))
    ]
    assert missing == []


def test_design_names_tests_for_every_invariant() -> None:
    """Invariants 1 to 12, in order, each with at least one test named under it."""
    text = DESIGN.read_text()
    numbers = [int(n) for n in INVARIANT.findall(text)]
    assert numbers == list(range(1, 13))
    sections = INVARIANT.split(text)[1:]
    for number, body in zip(sections[::2], sections[1::2], strict=True):
        assert TEST_REF.search(body), f"invariant {number} names no test"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_module_a_document_names_exists(document: Path) -> None:
    """`engine/sweep.py` (under src/trailsweep), `trailsweep/__init__.py` (under src) or
    `benchmarks/sweep.py` (under the root) is a file there."""
    paths = set(PATH_REF.findall(document.read_text()))
    assert paths, "a map that names no module"
    bases = (SRC, ROOT / "src", ROOT)
    missing = sorted(p for p in paths if not any((base / p).is_file() for base in bases))
    assert missing == []


def test_cited_invariants_are_numbered_in_the_design() -> None:
    """Every "docs/design.md invariant N" in the code is an invariant the design numbers."""
    numbers = {int(n) for n in INVARIANT.findall(DESIGN.read_text())}
    cited = {
        (path.relative_to(ROOT).as_posix(), int(n))
        for path in CITING
        for n in CITED.findall(path.read_text())
    }
    assert cited, "nothing cites an invariant: is the pattern still right?"
    assert sorted(c for c in cited if c[1] not in numbers) == []


def test_nothing_cites_what_is_not_in_the_repository() -> None:
    """No issue numbers, no documents kept outside the repository."""
    found = [
        f"{path.relative_to(ROOT)}:{line_no}: {line.strip()}"
        for path in CITING
        for line_no, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []


def test_readme_links_the_documents() -> None:
    """The README's "Documents" list links each document, and each link resolves."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Documents\n", 1)[1].split("\n## ", 1)[0]
    links = re.findall(r"\]\(([^)]+)\)", section)
    assert set(links) >= {"docs/design.md", "ARCHITECTURE.md", "CONTRIBUTING.md", "CHANGELOG.md"}
    assert [link for link in links if not (ROOT / link).is_file()] == []
