"""base/collector.py: the command's collector settings, in a process of their own (they
are the whole process's, so never this test process's)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
from trailsweep.base.collector import YOUNG_THRESHOLD, tune_for_sweeping
before = gc.get_threshold()
alive = [[] for _ in range(1000)]
tune_for_sweeping()
after = gc.get_threshold()
assert gc.get_freeze_count() >= len(alive), gc.get_freeze_count()
assert after == (YOUNG_THRESHOLD, before[1], before[2]), (before, after)
print("ok")
"""


def test_the_command_freezes_start_up_and_collects_young_objects_less_often() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"ok\n"
