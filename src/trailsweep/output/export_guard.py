"""Checks an export passes before its lock is taken or any call is made (exit 2 on failure,
nothing written): the files it names do not collide, the checkpoint's directory can take
one, and a checkpoint to resume agrees with the sweep it records and with its output.

Why the last one: a checkpoint carries a sha256 of its own body, which catches a torn or
accidentally damaged file, but anyone who edits it can recompute the hash. The spec (the
question as typed) is what a resume is compared against; the pinned query and the pair
list are what the resume actually runs. So an edit that drops a filter from the query,
widens its window or adds (or removes) accounts would pass the spec comparison and still
change the export. Here the query must be exactly what the spec yields at some moment
(relative times such as "7d" pin the window at the moment the export started, which the
checkpoint does not store; each typed time tells which moment that was), and the pairs
must be the matrix the spec names: exactly the product of explicit accounts and regions;
for 'org' or 'all', the matrix discovered once and recorded (a resume does not ask
again), held to its shape: sorted as the sweep sorts it, no pair twice.
Each pair's cursor must fit its state, and the written counts must add up.

Then the output (check_output): the file must hold the recorded offset, end a line
there, hash to the recorded sha256 up to it, and hold exactly the lines the pairs count
as written, pair by pair. That ties every written pair to its lines: a pair removed or
renamed, or an offset moved, is refused. What no check can see is a pair with nothing
written yet renamed to another discovered-looking pair, or removed, in an 'org'/'all'
matrix: only asking Organizations again could tell, and a resume does not.
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trailsweep.base.errors import CheckpointError, InputError
from trailsweep.engine.pair import Cursor, PairState
from trailsweep.output.checkpoint import Checkpoint
from trailsweep.output.checkpoint_spec import options_from_spec
from trailsweep.output.outfile import Prefix, describe, scan_prefix
from trailsweep.output.safe_files import lock_path, same_file
from trailsweep.settings.config import SweepSettings, build_config
from trailsweep.settings.names import is_account, is_region
from trailsweep.settings.query import RETENTION
from trailsweep.settings.selection import fixed_accounts
from trailsweep.settings.shards import account_start, assign
from trailsweep.settings.timeparse import parse_time

if TYPE_CHECKING:
    from hashlib import _Hash


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


def check_consistent(path: Path | str, ckpt: Checkpoint) -> None:
    """Refuse (CheckpointError) a checkpoint whose query or pairs its own spec does not give."""
    problem, cfg = _query_problem(ckpt)
    if cfg is not None:
        problem = _pairs_problem(ckpt, cfg) or _order_problem(ckpt.pairs) or _cursors_problem(ckpt)
    if problem:
        raise CheckpointError(
            f"checkpoint {path} does not agree with the sweep it records ({problem}); it was "
            f"edited: restore the checkpoint this export wrote, or start a new export "
            f"(delete {path} and the output)"
        )


def _config(spec: dict[str, Any], now: datetime) -> SweepSettings | None:
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


def _query_problem(ckpt: Checkpoint) -> tuple[str | None, SweepSettings | None]:
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


def _pairs_problem(ckpt: Checkpoint, cfg: SweepSettings) -> str | None:
    # The accounts when the spec fixes them (ids only); 'org' and OUs were discovered once
    # and recorded, so only their shape and the excluded ids are checked (selection.py).
    accounts, regions = fixed_accounts(cfg.accounts, cfg.exclude_accounts), cfg.regions
    excluded = set(cfg.exclude_accounts or ())
    by_account: dict[str, list[str]] = defaultdict(list)
    for p in ckpt.pairs:
        if not is_account(p.account):
            return f"pair {p.name}: not an account id"
        if isinstance(accounts, list) and p.account not in accounts:
            return f"pair {p.name}: account {p.account} is not in its accounts"
        if p.account in excluded:
            return f"pair {p.name}: account {p.account} is excluded by its spec"
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
    if cfg.accounts is None and len(by_account) > 1:
        return "pairs of several accounts for a sweep of the caller's account"
    if cfg.shard is not None:
        return _shard_problem(by_account, accounts, cfg)
    if isinstance(accounts, list) and sorted(by_account) != accounts:
        missing = sorted(set(accounts) - set(by_account))
        return f"accounts {', '.join(missing)} of its spec have no pair"
    for account, got in by_account.items():
        if isinstance(regions, list) and sorted(got) != regions:
            return f"account {account} lacks some of the regions of its spec"
        if regions is None and len(got) != 1:
            return f"account {account} has several regions for a sweep of one region"
    return None


def _shard_problem(
    by_account: dict[str, list[str]], accounts: list[str] | None, cfg: SweepSettings
) -> str | None:
    """The pairs of a shard's checkpoint are those the rule (settings/shards.py) gives
    its shard: exactly, where the spec names the regions; where they were discovered
    ('all'), only an account of one pair ('*' or one region) can be checked, as the
    rule needs every region of an account."""
    shard, regions = cfg.shard, cfg.regions
    assert shard is not None
    names = accounts if isinstance(accounts, list) else sorted(by_account)
    for account in names:
        got = sorted(by_account.get(account, []))
        if isinstance(regions, list):
            owner = assign([(account, r) for r in regions], shard.count)
            if got != [r for r in regions if owner[(account, r)] == shard.index]:
                return f"account {account} does not have the regions its shard {shard} has"
        elif regions is None or got == ["*"]:  # one pair: where the account starts
            mine = account_start(account, shard.count) == shard.index
            if len(got) > 1 or (got and not mine):
                return f"account {account} has pairs that are not of its shard {shard}"
            if mine and not got and regions is None and isinstance(accounts, list):
                return f"account {account} of its shard {shard} has no pair"
    return None


def _order_problem(pairs: list[PairState]) -> str | None:
    """The matrix as resolve_matrix makes it: sorted by account then region, each pair
    once; an account whose regions could not be listed is its one '*' pair."""
    for before, after in pairwise(pairs):
        if (before.account, before.region) >= (after.account, after.region):
            return f"pair {after.name} is out of the sweep's order (after {before.name})"
        if before.account == after.account and before.region == "*":
            return f"account {after.account} has a '*' pair and regions besides"
    return None


def _cursors_problem(ckpt: Checkpoint) -> str | None:
    """Each cursor fits its pair's state and the window; the counts add up."""
    anchor = datetime(2000, 1, 1, tzinfo=UTC)
    start = int(parse_time(str(ckpt.query["start"]), now=anchor).timestamp())
    end = int(parse_time(str(ckpt.query["end"]), now=anchor).timestamp())
    total = 0
    for p in ckpt.pairs:
        c = p.cursor
        total += c.written
        if c.written < 0 or c.skip < 0 or p.events < c.written:
            return f"pair {p.name}: its counts are impossible"
        if c.written == 0 and c != Cursor():
            return f"pair {p.name}: a cursor with nothing written"
        if (p.state == "pending" or p.region == "*") and (c.written or p.events):
            return f"pair {p.name}: events written by a pair that never ran"
        if c.written and (c.oldest is None or not 1 <= len(c.ids) <= c.written or c.skip < 1):
            return f"pair {p.name}: a cursor without its oldest second"
        if c.oldest is not None and not start <= c.oldest <= end:
            return f"pair {p.name}: its cursor is outside the window"
    if total != ckpt.written:
        return f"its pairs count {total} events written, its total says {ckpt.written}"
    limit = ckpt.query.get("max_items")
    if isinstance(limit, int) and total > limit:
        return f"{total} events written, more than its max_items {limit}"
    return None


def check_output(output: Path, path: Path, ckpt: Checkpoint) -> _Hash:
    """Refuse (CheckpointError) an output that is not what `ckpt` recorded of it; returns
    the sha256 of its first `ckpt.offset` bytes, for the writer to go on with."""
    offset = ckpt.offset
    fix = (
        f"restore the files as the export left them, or start a new export (delete {path} "
        "and the output)"
    )
    try:
        size = output.stat().st_size if output.exists() else 0
        if size < offset:
            raise CheckpointError(
                f"{output} is shorter ({size} bytes) than its checkpoint says ({offset}); "
                f"delete {path} and the output to start over"
            )
        found = scan_prefix(output, offset)
    except OSError as err:
        raise CheckpointError(f"cannot read {output} to check it: {describe(err)}") from None
    problem = _prefix_problem(found, ckpt)
    if problem:
        raise CheckpointError(f"{output} is not what its checkpoint recorded ({problem}); {fix}")
    return found.digest


def _prefix_problem(found: Prefix, ckpt: Checkpoint) -> str | None:
    if ckpt.offset and found.last_byte != b"\n":
        return f"byte {ckpt.offset} does not end a line"
    if found.digest.hexdigest() != ckpt.output_sha256:
        return (
            f"the sha256 of its first {ckpt.offset} bytes is not the one recorded: the "
            "output or the offset was changed"
        )
    if found.lines != ckpt.written:
        return f"{found.lines} lines up to byte {ckpt.offset}, {ckpt.written} events recorded"
    other = found.per_pair.pop(("", ""), 0)
    if other:
        return f"{other} of its lines are not event lines"
    names = {(p.account, p.region): p for p in ckpt.pairs}
    for key, lines in sorted(found.per_pair.items()):
        if key not in names:
            return f"{lines} lines of {key[0]}/{key[1]}, which is not among its pairs"
    for p in ckpt.pairs:
        lines = found.per_pair.get((p.account, p.region), 0)
        if lines != p.cursor.written:
            return f"{lines} lines of {p.name}, which counts {p.cursor.written} written"
    return None
