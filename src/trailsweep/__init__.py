"""trailsweep: every CloudTrail management event of an organization, in one ordered stream."""

from __future__ import annotations

from trailsweep.errors import (
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
__version__ = "0.1.0"
