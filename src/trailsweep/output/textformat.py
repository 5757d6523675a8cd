"""`--output text`: the AWS CLI's tab-separated rendering of a response, byte for byte.

The rules (awscli/text.py, the same in v1 and v2):
- a dict prints its scalar values on one line, tab-separated, in key order, prefixed by
  the upper-cased key under which it sits (none at the top); then each non-scalar value,
  in key order, under its own key;
- a list of dicts prints each dict as above, with the columns being every scalar key seen
  in any element (sorted; '' where an element lacks one);
- a list of scalars under a key prints one `KEY<TAB>value` line per item; a bare one
  prints all items on one tab-separated line; mixed lists print their scalars first;
- a scalar prints as Python's str() (True, None...), one line.
"""

from __future__ import annotations

from typing import Any


def format_text(value: Any) -> str:
    """The whole text output for one response (or one page)."""
    lines: list[str] = []
    _item(value, lines, None, None)
    return "".join(lines)


def _is_scalar(value: object) -> bool:
    return not isinstance(value, dict | list)


def _item(value: Any, lines: list[str], key: str | None, columns: list[str] | None) -> None:
    if isinstance(value, dict):
        _mapping(value, lines, key, columns)
    elif isinstance(value, list):
        _sequence(value, lines, key)
    else:
        lines.append(f"{value}\n")


def _sequence(items: list[Any], lines: list[str], key: str | None) -> None:
    if not items:
        return
    if any(isinstance(el, dict) for el in items):
        columns = sorted({k for el in items for k, v in el.items() if _is_scalar(v)})
        for el in items:
            _item(el, lines, key, columns)
        return
    scalars = [el for el in items if _is_scalar(el)]
    nested = [el for el in items if not _is_scalar(el)]
    if scalars or not nested:
        _scalar_list(scalars, lines, key)
    for el in nested:
        _item(el, lines, key, None)


def _scalar_list(items: list[Any], lines: list[str], key: str | None) -> None:
    if key is None:
        lines.append("\t".join(str(el) for el in items) + "\n")
    else:
        lines.extend(f"{key.upper()}\t{el}\n" for el in items)


def _mapping(
    mapping: dict[str, Any], lines: list[str], key: str | None, columns: list[str] | None
) -> None:
    if columns is None:
        ordered = sorted(mapping.items())
        values = [str(v) for _, v in ordered if _is_scalar(v)]
        rest = [(k, v) for k, v in ordered if not _is_scalar(v)]
    else:
        values = [str(mapping.get(k, "")) for k in columns]
        rest = [(k, mapping[k]) for k in sorted(set(mapping) - set(columns))]
    if values:
        prefix = [key.upper()] if key is not None else []
        lines.append("\t".join(prefix + values) + "\n")
    for sub_key, sub in rest:
        _item(sub, lines, sub_key, None)
