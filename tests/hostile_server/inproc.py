"""Run the real `trailsweep` command line in this process, stdio captured as bytes.

A subprocess costs ~0.5 s of interpreter start-up per run; the hostile-server and fuzz
tests run hundreds of command lines, so they call `trailsweep.cli:main` here instead,
with the environment and stdio of a real run and restored after it.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from trailsweep.cli import main


@dataclass(frozen=True)
class Ran:
    """What a command line did: its exit code, its stdout bytes, its stderr text."""

    code: int
    out: bytes
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ with every AWS_* variable replaced by those of `env`, then restored."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_main(args: list[str], env: Mapping[str, str]) -> Ran:
    """`trailsweep ARGS` in this process with `env`'s AWS settings; never raises SystemExit."""
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = stdout, stderr
    code: int = 0
    try:
        with environment(env):
            main(args)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.stdout, sys.stderr = saved
        stdout.flush()
        stderr.flush()
    return Ran(code, out.getvalue(), err.getvalue().decode("utf-8", errors="backslashreplace"))
