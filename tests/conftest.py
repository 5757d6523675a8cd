"""Fixtures: emulators on 127.0.0.1 in background threads, pointed at by real clients."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from trailsweep.emulator import EmulatorThread

from s3_support import MotoS3, moto_s3
from support import UNUSED_CA, UseEmu, aws_env, settings

# How long generating and running an example takes follows the machine's load (the suite
# runs on 2 busy cores), not the code: no deadline and no "too slow" health check for any
# property test. Examples stay random (new ones each run); a failure prints its seed.
# A test with its own suppress_health_check list names too_slow itself (it replaces this).
hypothesis_settings.register_profile(
    "trailsweep", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("trailsweep")


@pytest.fixture(scope="session", autouse=True)
def unused_ca() -> Iterator[None]:
    """AWS_CA_BUNDLE for the clients made in this process from settings alone (not from
    `aws_env`): the small bundle of support.UNUSED_CA, for the reason given there."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_CA_BUNDLE", UNUSED_CA)
        yield


@pytest.fixture(scope="module")
def fast_emu() -> Iterator[EmulatorThread]:
    """An emulator with a quota high enough that contract tests never wait on it."""
    fast = settings(events_per_day=2000.0, faults={"rate": 10_000.0, "burst": 10_000.0})
    with EmulatorThread(fast) as emu:
        yield emu


@pytest.fixture(scope="session")
def s3() -> Iterator[MotoS3]:
    """One moto S3 server for the test session (each xdist worker's), on 127.0.0.1."""
    with moto_s3() as running:
        yield running


@pytest.fixture
def use_emu(monkeypatch: pytest.MonkeyPatch) -> UseEmu:
    """Point this process's AWS SDKs at an emulator: ``use_emu(emu)``."""

    def apply(emu: EmulatorThread) -> None:
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            monkeypatch.delenv(key)
        for key, value in aws_env(emu).items():
            if key.startswith("AWS_"):
                monkeypatch.setenv(key, value)

    return apply


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
