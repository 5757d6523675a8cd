"""Checks an export passes before its lock is taken or any call is made (exit 2 on failure,
nothing written): the files it names do not collide, the checkpoint's directory can take
one, and a checkpoint to resume agrees with the sweep it records.

Why the last one: a checkpoint carries a sha256 of its own body, which catches a torn or
accidentally damaged file, but anyone who edits it can recompute the hash. The spec (the
question as typed) is what a resume is compared against; the pinned query and the pair
list are what the resume actually runs. So an edit that drops a filter from the query,
widens its window or adds (or removes) accounts would pass the spec comparison and still
change the export. Here the query must be exactly what the spec yields at some moment
(relative times such as "7d" pin the window at the moment the export started, which the
checkpoint does not store; each typed time tells which moment that was), and the pairs
must be the matrix the spec names.
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trailsweep.checkpoint import Checkpoint
from trailsweep.config import SweepConfig, build_config, options_from_spec
from trailsweep.errors import CheckpointError, InputError
from trailsweep.names import is_account, is_region
from trailsweep.query import RETENTION
from trailsweep.safe_files import lock_path, same_file
from trailsweep.timeparse import parse_time


def refuse_collisions(output: Path, checkpoint: Path, summary: Path | None) -> None:
    """--checkpoint or --summary-json naming the output (or each other, or the lock) would
    overwrite the export at the first checkpoint or at the end: refuse before anything."""
    named = [("--output", output), ("--checkpoint", checkpoint)]
    if summary is not None:
        named.append(("--summary-json", summary))
    named.append(("the lock file", lock_path(output)))
    for i, (name_a, a) in enumerate(named):
        for name_b, b in named[i + 1 :]:
            if same_file(a, b):
                raise InputError(
                    f"{name_a} and {name_b} are the same file ({b}); writing one would "
                    "destroy the other: give each its own path"
                )


def check_checkpoint_dir(path: Path) -> None:
    """The checkpoint is replaced by rename, so its directory must take new files."""
    if path.is_dir():
        raise InputError(f"--checkpoint: {path} is a directory; name a file")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"--checkpoint: directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(
            f"--checkpoint: cannot create files in {parent} (read-only); choose a writable "
            "directory with --checkpoint"
        )


def check_consistent(path: Path, ckpt: Checkpoint) -> None:
    """Refuse (CheckpointError) a checkpoint whose query or pairs its own spec does not give."""
    problem, cfg = _query_problem(ckpt)
    if cfg is not None:
        problem = _pairs_problem(ckpt, cfg)
    if problem:
        raise CheckpointError(
            f"checkpoint {path} does not agree with the sweep it records ({problem}); it was "
            f"edited: restore the checkpoint this export wrote, or start a new export "
            f"(delete {path} and the output)"
        )


def _config(spec: dict[str, Any], now: datetime) -> SweepConfig | None:
    try:
        return build_config(options_from_spec(spec), now=now)
    except (InputError, TypeError, ValueError, KeyError):
        return None


def _moments(ckpt: Checkpoint) -> list[datetime]:
    """The moments at which the export may have started, from its pinned window."""
    anchor = datetime(2000, 1, 1, tzinfo=UTC)
    try:
        end = parse_time(str(ckpt.query["end"]), now=anchor)
        start = parse_time(str(ckpt.query["start"]), now=anchor)
    except (InputError, KeyError):
        return []
    out = [end, start + RETENTION]
    for typed, pinned in ((ckpt.spec.get("end_time"), end), (ckpt.spec.get("start_time"), start)):
        if isinstance(typed, str):
            with contextlib.suppress(InputError):  # an age ("7d") counts from the start
                out.append(pinned + (anchor - parse_time(typed, now=anchor)))
    return out


def _query_problem(ckpt: Checkpoint) -> tuple[str | None, SweepConfig | None]:
    """What is wrong with the query, or the config its spec gives (at the moment that
    yields exactly the stored query)."""
    moments = _moments(ckpt)
    if not moments:
        return "its query has no valid window", None
    first: dict[str, Any] | None = None
    for now in moments:
        cfg = _config(ckpt.spec, now)
        if cfg is None:
            continue
        expected = cfg.query.describe()
        if expected == ckpt.query:
            return None, cfg
        first = first or expected
    if first is None:
        return "its spec does not make a valid sweep", None
    keys = sorted(k for k in set(first) | set(ckpt.query) if first.get(k) != ckpt.query.get(k))
    verb = "differs" if len(keys) == 1 else "differ"
    return f"its query's {', '.join(keys)} {verb} from what its spec asks", None


def _pairs_problem(ckpt: Checkpoint, cfg: SweepConfig) -> str | None:
    accounts, regions = cfg.accounts, cfg.regions
    by_account: dict[str, list[str]] = defaultdict(list)
    for p in ckpt.pairs:
        if not is_account(p.account):
            return f"pair {p.name}: not an account id"
        if isinstance(accounts, list) and p.account not in accounts:
            return f"pair {p.name}: account {p.account} is not in its accounts"
        if p.region == "*":  # an account whose regions could not be listed
            if regions != "all" or p.state != "failed":
                return f"pair {p.name}: region '*' only marks a failed region discovery"
        elif not is_region(p.region):
            return f"pair {p.name}: not a region name"
        elif isinstance(regions, list) and p.region not in regions:
            return f"pair {p.name}: region {p.region} is not in its regions"
        if p.region in by_account[p.account]:
            return f"pair {p.name} appears twice"
        by_account[p.account].append(p.region)
    if isinstance(accounts, list) and sorted(by_account) != accounts:
        missing = sorted(set(accounts) - set(by_account))
        return f"accounts {', '.join(missing)} of its spec have no pair"
    if accounts is None and len(by_account) > 1:
        return "pairs of several accounts for a sweep of the caller's account"
    for account, got in by_account.items():
        if isinstance(regions, list) and sorted(got) != regions:
            return f"account {account} lacks some of the regions of its spec"
        if regions is None and len(got) != 1:
            return f"account {account} has several regions for a sweep of one region"
    return None
