"""`--output yaml` and `--output yaml-stream`: the AWS CLI v2 shapes (v1 has neither).

As v2 writes them (awscli/formatter.py YAMLDumper, documented under "Setting the output
format" in the v2 user guide): ruamel.yaml's safe dumper in block style, so mapping keys
come out sorted and strings YAML would read as something else are quoted (ISO timestamps,
'true'). The emitter is ruamel.yaml.clib's C one, which v2 installs and YAML(typ="safe")
picks when present; the pure one folds long scalars (ARNs) onto a second line and quotes
differently, so its bytes are not v2's. A bare scalar (a --query that picks one value) is
written as JSON instead, one line, to avoid YAML's document-end marker. yaml-stream
writes each page as a list of one item, so that the pages concatenate into one YAML list.
"""

from __future__ import annotations

import io
import json
from typing import Any

from ruamel.yaml import YAML


def _dumper() -> YAML:
    yaml = YAML(typ="safe")
    yaml.encoding = None  # type: ignore[assignment]  # we encode the text ourselves
    yaml.representer.default_flow_style = False
    return yaml


def dump_yaml(value: Any) -> str:
    """One value as `--output yaml` prints it."""
    if value is None or isinstance(value, int | float | str):  # bool is an int
        return json.dumps(value, ensure_ascii=False) + "\n"
    out = io.StringIO()
    _dumper().dump(value, out)
    return out.getvalue()


def dump_yaml_stream_item(value: Any) -> str:
    """One page as `--output yaml-stream` prints it: a list of one item."""
    return dump_yaml([value])
