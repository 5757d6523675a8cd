"""What the command costs before its first call: modules a run does not use stay unloaded."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import trailsweep.cli.app
drawn = sorted(m for m in sys.modules if m == "rich" or m.startswith("rich."))
assert not drawn, drawn
print("ok")
"""


def test_the_command_loads_rich_only_to_draw_progress() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"ok\n"
