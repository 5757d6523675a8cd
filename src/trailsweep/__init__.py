"""trailsweep: every CloudTrail management event of an organization, in one ordered stream."""

from __future__ import annotations

from trailsweep.base.errors import (
    CheckpointError,
    ConfigError,
    CredentialsError,
    InputError,
    PairFailed,
    TrailsweepError,
)

__all__ = [
    "CheckpointError",
    "ConfigError",
    "CredentialsError",
    "InputError",
    "PairFailed",
    "TrailsweepError",
]


def __getattr__(name: str) -> str:
    # `__version__` is read from the installed package's metadata, so pyproject.toml is the
    # one place the version is written; looked up only when asked (it costs tens of ms).
    if name == "__version__":
        return _package_version()
    raise AttributeError(f"module 'trailsweep' has no attribute {name!r}")


def _package_version() -> str:
    """The installed trailsweep's version, from its package metadata (pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trailsweep")
    except PackageNotFoundError:  # a source tree put on sys.path, never installed
        return "0+unknown"
