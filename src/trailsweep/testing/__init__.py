"""What tests need, ours and yours: a virtual clock and an emulator to run against.

- `ManualClock`: time that moves only when told to; `sleep` jumps ahead at once. Pass it
  wherever trailsweep or its emulator takes a `clock`, and pacing, backoff and expiry
  run in milliseconds, deterministically.
- `running_emulator(seed=..., ...)`: a CloudTrail emulator on 127.0.0.1 for the length of
  a `with` block, yielding a `RunningEmulator`: its URL and keys (`connection`, `env()`)
  and its ground truth (`truth(account, region, ...)`), what a complete LookupEvents
  query returns.

    from trailsweep.testing import running_emulator

    def test_my_pipeline() -> None:
        with running_emulator(seed=1, members=2) as emu:
            run_my_pipeline(env=emu.env())          # any AWS SDK or CLI, sent there
            expected = emu.truth(emu.account, emu.region)
            ...

As a pytest fixture:

    @pytest.fixture(scope="module")
    def emu() -> Iterator[RunningEmulator]:
        with running_emulator(seed=1) as running:
            yield running

The library never imports this package (the import contracts in pyproject.toml say so);
it imports only the emulator and the public API.
"""

from __future__ import annotations

from trailsweep.testing.clock import ManualClock
from trailsweep.testing.emulator import (
    Connection,
    RunningEmulator,
    current_hour,
    running_emulator,
)

__all__ = ["Connection", "ManualClock", "RunningEmulator", "current_hour", "running_emulator"]
