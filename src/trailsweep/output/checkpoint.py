"""Checkpoints: what an export needs to continue exactly where it stopped.

The file (`OUTPUT.checkpoint.json` unless --checkpoint says otherwise) holds the frozen
sweep (the options as given, the pinned window, the resolved matrix) with its hash, the
output byte offset up to which the output is fsynced, the sha256 of the output's bytes up
to that offset, and one cursor per pair. It is written atomically (temp file, fsync,
rename, fsync of the directory) and carries a sha256 of its own body, so a torn file is
detected and refused; what an edit with that sha256 recomputed is held to is
export_guard's.

A lock file beside the output (safe_files.Lock, held with flock) keeps two runs off one
output; a lock left by a dead process is released by the kernel, so taking it over needs
nothing special.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from trailsweep.base.errors import CheckpointError
from trailsweep.base.sanitize import clean
from trailsweep.engine.pair import Cursor, PairState
from trailsweep.output.safe_files import resolved, sealed_bytes, unsealed, write_sealed

# 2: the output's sha256 up to the offset (`output_sha256`). A checkpoint of version 1
# has none, and taking it without would let an edit skip the check of the output, so it
# is refused as from another version (its export starts over).
VERSION = 2
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_HEX64 = re.compile(r"[0-9a-f]{64}")
_STATES = ("pending", "running", "done", "failed")


def default_path(output: Path) -> Path:
    """Beside the output's real file: a run through a symlink to the output finds (and
    continues) the checkpoint of a run that named the file itself."""
    real = resolved(output)
    return real.with_name(real.name + ".checkpoint.json")


def spec_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(slots=True)
class Checkpoint:
    spec: dict[str, Any]  # the options that define the question, as given
    query: dict[str, Any]  # the pinned query (Query.describe())
    pairs: list[PairState]
    offset: int = 0
    written: int = 0
    finished: bool = False
    output_sha256: str = EMPTY_SHA256  # of the output's first `offset` bytes
    # An --output-dir sweep's parts (output/parts_export.py reads and checks it); None for
    # an --output file, whose checkpoint then has no "parts" key. With parts, `offset` is
    # the NDJSON bytes the parts hold and `output_sha256` stays EMPTY_SHA256: each part
    # records its own sha256.
    parts: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        body = {
            "version": VERSION,
            "spec": self.spec,
            "spec_hash": spec_hash(self.spec),
            "query": self.query,
            "offset": self.offset,
            "output_sha256": self.output_sha256,
            "written": self.written,
            "finished": self.finished,
            "pairs": [
                {**p.as_dict(), "cursor": p.cursor.as_dict(), "yielded": p.events}
                for p in self.pairs
            ],
        }
        if self.parts is not None:
            body["parts"] = self.parts
        return body


def save(path: Path, ckpt: Checkpoint) -> None:
    """Write atomically: a fresh temp file (O_EXCL, random name, so a planted symlink is
    never followed), fsync, rename over, fsync the directory (safe_files.atomic_write)."""
    write_sealed(path, ckpt.body())


def load(path: Path) -> Checkpoint:
    """Read and verify a checkpoint; anything torn, edited or unknown is a CheckpointError."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err.strerror}") from None
    return parse(raw, path)


def sealed(ckpt: Checkpoint) -> bytes:
    """The bytes `save` writes (for a checkpoint kept elsewhere: output/s3_store.py)."""
    return sealed_bytes(ckpt.body())


def parse(raw: bytes, path: Path | str) -> Checkpoint:
    """A checkpoint from its bytes (`path`: where they were read, for the messages)."""
    fix = f"delete {path} (and the output) to start over"
    body = unsealed(raw)
    if body is None:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated (checksum); {fix}")
    try:
        if body["version"] != VERSION or body["spec_hash"] != spec_hash(body["spec"]):
            raise CheckpointError(f"checkpoint {path} is from another trailsweep version; {fix}")
        pairs = []
        for item in body["pairs"]:
            state = item["state"]
            if state not in _STATES:
                raise ValueError(state)
            c = item["cursor"]
            pair = PairState(
                account=str(item["account"]),
                region=str(item["region"]),
                state=state,
                calls=int(item["calls"]),
                throttled=int(item["throttled"]),
                retries=int(item["retries"]),
                # A checkpoint is a file anyone may edit: its error texts are cleaned as
                # they come in, as PairState.fail cleans a server's.
                error=None if item["error"] is None else clean(item["error"]),
                cursor=Cursor(
                    end=c["end"], token=c["token"], skip=int(c["skip"]), oldest=c["oldest"],
                    ids=[str(i) for i in c["ids"]], written=int(c["written"]),
                ),
            )  # fmt: skip
            pair.events = int(item["yielded"])
            pairs.append(pair)
        digest = body["output_sha256"]
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise ValueError(digest)
        if int(body["offset"]) < 0 or int(body["written"]) < 0:
            raise ValueError(body["offset"])
        parts = body.get("parts")
        if parts is not None and not isinstance(parts, dict):
            raise TypeError(parts)
        return Checkpoint(
            spec=body["spec"],
            query=body["query"],
            pairs=pairs,
            offset=int(body["offset"]),
            written=int(body["written"]),
            finished=bool(body["finished"]),
            output_sha256=digest,
            parts=parts,
        )
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"checkpoint {path} does not hold a valid sweep; {fix}") from None


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two specs, for the refusal message."""
    out = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            out.append(f"{key} was {old.get(key)!r}, now {new.get(key)!r}")
    return out
