"""What the CLI checks before any call beyond the settings' own checks, and the small
files it writes whole.

- `check_reachable`: the configured endpoint accepts a connection (a refused one is
  one line in about a second, not botocore's retries); exit 1, ServerFailed.
- `check_writable`: a file the command will write can be created or replaced; exit 2.
- `write_created` (--summary-json) and `atomic_write` (the emulator's --env-file):
  written whole, a reader never sees half a file.

They live in the layers below (aws.reach, output.safe_files), where the sweep and the
export use them; they are named here so that the CLI reaches them through this layer.
"""

from __future__ import annotations

from trailsweep.aws.reach import check_reachable
from trailsweep.output.safe_files import atomic_write, check_writable, write_created

__all__ = ["atomic_write", "check_reachable", "check_writable", "write_created"]
