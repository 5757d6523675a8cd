"""Per-event pseudo-random numbers and CloudTrail's time format, for rendering."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache

_MASK = (1 << 64) - 1


class Bits:
    """Pseudo-random numbers for one event, cut from one blake2b digest of its seed:
    one C call instead of seeding random.Random (which was a fifth of rendering time)."""

    __slots__ = ("pool", "seed", "used")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.pool = 0
        self.used = 512

    def getrandbits(self, k: int) -> int:
        if self.used + k > 512:
            digest = hashlib.blake2b(self.seed.to_bytes(8, "big"), digest_size=64).digest()
            self.pool, self.used = int.from_bytes(digest, "big"), 0
            self.seed = (self.seed + 1) & _MASK
        out = (self.pool >> self.used) & ((1 << k) - 1)
        self.used += k
        return out

    def random(self) -> float:
        return self.getrandbits(53) / (1 << 53)

    def randrange(self, start: int, stop: int | None = None) -> int:
        if stop is None:
            start, stop = 0, start
        return start + self.getrandbits(32) % (stop - start)

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()


@lru_cache(maxsize=4096)
def hour_prefix(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H:")


def iso(epoch: int) -> str:
    rest = epoch % 3600
    return f"{hour_prefix(epoch // 3600)}{rest // 60:02d}:{rest % 60:02d}Z"
