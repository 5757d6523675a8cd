"""`--output table`: the AWS CLI's boxed tables, byte for byte (awscli/formatter.py
TableFormatter and awscli/table.py, the same in v1 and v2), without colours.

The response becomes sections: a titled box per dict or list of dicts, scalars as columns
(sorted headers), each nested value a titled sub-section indented by one `|` per level.
Every section is as wide as the widest one; column widths are the cells' widths plus 4,
scaled to that width. A table wider than the terminal (80 columns when stdout is not a
terminal) is redrawn once with every single-row section turned into key/value rows.
Width counts East Asian wide, full-width and ambiguous characters as 2.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Any

_PADDING = 4


def terminal_width(default: int = 80) -> int:
    """stdout's terminal width, or `default` when stdout is not a terminal (a pipe, a file)."""
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return default


def text_width(text: object) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WFA" else 1 for ch in str(text))


@dataclass
class Section:
    # None where the CLI passes no title (a list nested in a list); it then still counts
    # as the four characters of "None" in the width, as the CLI counts it.
    title: str | None = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    indent: int = 0
    columns: int | None = None
    widths: list[int] = field(default_factory=list)

    def add_header(self, headers: list[str]) -> None:
        self._grow(headers)
        if self.columns is None:
            self.columns = len(headers)
        self.headers = headers

    def add_row(self, row: list[Any]) -> None:
        if self.columns is None:
            self.columns = len(row)
        if len(row) != self.columns:
            raise ValueError(f"Row should have {self.columns} elements, instead it has {len(row)}")
        cells = [str(cell) for cell in row]
        self.rows.append(cells)
        self._grow(cells)

    def _grow(self, cells: list[str]) -> None:
        if not self.widths:
            self.widths = [text_width(c) for c in cells]
        else:
            for i, c in enumerate(cells):
                self.widths[i] = max(text_width(c), self.widths[i])

    def column_widths(self, total: int) -> list[int]:
        """Cell widths plus padding, scaled to sum to `total` (rounding evened out from
        the left when over, from the right when under)."""
        unscaled = [w + _PADDING for w in self.widths]
        if not unscaled:
            return unscaled
        factor = total / float(sum(unscaled))
        scaled = [round(factor * w) for w in unscaled]
        off = sum(scaled) - total
        while off != 0:
            order = range(len(scaled)) if off > 0 else reversed(range(len(scaled)))
            for i in order:
                if off > 0:
                    scaled[i] -= 1
                    off -= 1
                else:
                    scaled[i] += 1
                    off += 1
                if off == 0:
                    break
        return scaled

    def total_width(self) -> int:
        body = sum(w + _PADDING for w in self.widths) + 2 + 2 * self.indent
        return max(text_width(self.title) + 2 + 2 * self.indent, body)


def format_table(title: str, value: Any, width: int | None = None) -> str:
    """The table the AWS CLI draws for `value` under `title` (the operation name); ''
    when `value` is empty or false (the CLI prints nothing then)."""
    sections: list[Section] = []
    if not _build(sections, title, value, 0):
        return ""
    return _render(sections, terminal_width() if width is None else width)


# building -------------------------------------------------------------------------------
def _is_scalar(value: object) -> bool:
    return not isinstance(value, dict | list)


def _split_keys(mapping: dict[str, Any]) -> tuple[list[str], list[str]]:
    scalars = sorted(k for k in mapping if _is_scalar(mapping[k]))
    rest = sorted(k for k in mapping if not _is_scalar(mapping[k]))
    return scalars, rest


def _new(sections: list[Section], title: str | None, indent: int) -> None:
    sections.append(Section(title=title, indent=indent))


def _build(sections: list[Section], title: str | None, value: Any, indent: int) -> bool:
    if not value:
        return False
    if title is not None:
        _new(sections, title, indent)
    if isinstance(value, list):
        if isinstance(value[0], dict):
            _from_list(sections, value, indent, title)
        else:
            for item in value:
                if _is_scalar(item):
                    sections[-1].add_row([item])
                elif all(_is_scalar(el) for el in item):
                    sections[-1].add_row(list(item))
                else:
                    _build(sections, None, item, 0)
    if isinstance(value, dict):
        _from_dict(sections, value, indent)
    return True


def _from_dict(sections: list[Section], mapping: dict[str, Any], indent: int) -> None:
    headers, rest = _split_keys(mapping)
    if len(headers) == 1:
        sections[-1].add_row([headers[0], mapping[headers[0]]])
    elif headers:
        sections[-1].add_header(headers)
        sections[-1].add_row([mapping[k] for k in headers])
    for key in rest:
        _build(sections, key, mapping[key], indent + 1)


def _from_list(
    sections: list[Section], items: list[dict[str, Any]], indent: int, title: str | None
) -> None:
    header_set: set[str] = set()
    rest_set: set[str] = set()
    for item in items:
        h, r = _split_keys(item)
        header_set.update(h)
        rest_set.update(r)
    headers, rest = sorted(header_set), sorted(rest_set)
    sections[-1].add_header(headers)
    for n, item in enumerate(items):
        if n and rest:
            _new(sections, title, indent)
            sections[-1].add_header(headers)
        sections[-1].add_row([item.get(h, "") for h in headers])
        for key in rest:
            if key in item:
                _build(sections, key, item[key], indent + 1)


# rendering ------------------------------------------------------------------------------
def _center(text: str, length: int, left: str = "|", right: str = "|") -> str:
    size = text_width(text)
    start = (length // 2) - (size // 2) - 1
    head = left + " " * start + text
    so_far = text_width(left) + start + size
    return head + " " * (length - text_width(right) - so_far) + right


def _align_left(text: str, length: int, left: str, right: str = "|") -> str:
    size = text_width(text)
    padding = 2 if length - (size + 2 + text_width(left) + text_width(right)) >= 0 else 0
    so_far = len(left) + padding + size
    return left + " " * padding + text + " " * (length - so_far - len(right)) + right


def _line_break(widths: list[int]) -> str:
    parts = [("+" if i == 0 else "") + "-" * (w - (2 if i == 0 else 1)) + "+"
             for i, w in enumerate(widths)]  # fmt: skip
    return "".join(parts) + "\n"


def _vertical(sections: list[Section]) -> None:
    """Turn each single-row section with headers into header/value rows."""
    for i, section in enumerate(sections):
        if len(section.rows) == 1 and section.headers:
            turned = Section(title=section.title, indent=section.indent)
            for header, cell in zip(section.headers, section.rows[0], strict=False):
                turned.add_row([header, cell])
            sections[i] = turned


def _render(sections: list[Section], terminal: int) -> str:
    width = max(s.total_width() for s in sections)
    if width > terminal:
        _vertical(sections)
        width = max(s.total_width() for s in sections)
    out = ["-" * width + "\n"]
    for section in sections:
        lines: list[str] = []
        _render_section(section, width - 2 * section.indent, lines)
        bar = "|" * section.indent
        out.extend(bar + line[:-1] + bar + "\n" for line in lines)
    return "".join(out)


def _render_section(section: Section, width: int, lines: list[str]) -> None:
    if section.title:
        lines.append(_center(section.title, width) + "\n")
        if not section.headers and not section.rows:
            lines.append("+" + "-" * (width - 2) + "+\n")
    if section.headers:
        widths = section.column_widths(width)
        lines.append(_line_break(widths))
        lines.append(
            "".join(_center(h, w, "|" if i == 0 else "") for i, (w, h) in
                    enumerate(zip(widths, section.headers, strict=False))) + "\n"
        )  # fmt: skip
    if section.rows:
        widths = section.column_widths(width)
        if not widths:
            return
        lines.append(_line_break(widths))
        for row in section.rows:
            lines.append(
                "".join(_align_left(c, w, "|" if i == 0 else "") for i, (w, c) in
                        enumerate(zip(widths, row, strict=False))) + "\n"
            )  # fmt: skip
        lines.append(_line_break(widths))
