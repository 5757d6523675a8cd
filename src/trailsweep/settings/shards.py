"""Which shard sweeps which (account, region) pair: `--shard I/N`, `trailsweep plan`.

The rule, the same on every machine and in every run over the same pairs:

- each account draws a starting shard from a hash of its id alone (blake2b, not Python's
  salted `hash`), so the rule does not depend on the process, the machine or the order
  the accounts were listed in;
- its regions, sorted, go to that shard and the ones after it in turn: region k of the
  account to shard (start + k) mod N.

So the pairs of one account are spread over the shards (an account busy in every region
does not load one shard), every shard of an account's pairs holds the same number give
or take one, and adding or removing an account moves none of the other accounts' pairs.
What moves a pair: its own account gaining or losing a region, or a different N. An
incremental run (`--state`) per shard therefore keeps N and the region list fixed; a pair
that moves starts in its new shard as a new pair (the state names it) and ends in the old
one as a removed pair.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

MAX_SHARDS = 10_000


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard `index` of `count` (0 <= index < count)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def account_start(account: str, count: int) -> int:
    """The shard an account's first region goes to."""
    digest = hashlib.blake2b(account.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def assign(pairs: Iterable[tuple[str, str]], count: int) -> dict[tuple[str, str], int]:
    """The shard of each (account, region) pair, 0 to `count` - 1 (the module's rule)."""
    regions: dict[str, list[str]] = {}
    for account, region in pairs:
        regions.setdefault(account, []).append(region)
    out: dict[tuple[str, str], int] = {}
    for account, names in regions.items():
        start = account_start(account, count)
        for k, region in enumerate(sorted(set(names))):
            out[(account, region)] = (start + k) % count
    return out
