"""`sweep --output-dir s3://bucket/prefix`: a sweep into parts on S3, resumable exactly once.

The same sweep as into a directory (parts_export.py: the choice between a new sweep, a
resume and a finished sweep left alone, the run that closes and records parts); what
differs is where parts and checkpoint are kept (s3_store.py, whose docstring gives the
order that keeps exactly once). Before any LookupEvents call: the bucket is checked
(HeadBucket: missing or refused is exit 2), a part a killed run had put but not yet
recorded as done is taken as done (`recover`), multipart uploads it left are aborted,
and the recorded parts still under the prefix must have their recorded size.
"""

from __future__ import annotations

from typing import Any

from trailsweep.base.errors import CheckpointError
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.output.checkpoint import Checkpoint
from trailsweep.output.parts import PART_NAME, PartInfo, PartsLayout
from trailsweep.output.parts_export import PartsExport, decide, parts_of
from trailsweep.output.s3_store import MAIN, NEXT, S3PartStore, access_of
from trailsweep.settings.config import SweepSettings

__all__ = ["prepare_s3_parts", "recover"]


def prepare_s3_parts(
    cfg: SweepSettings, spec: dict[str, Any], *, overwrite: bool = False,
    store: S3PartStore | None = None,
) -> PartsExport:  # fmt: skip
    """The sweep into `cfg.output_s3`, checked before any call (module docstring);
    `store`: an open one to use (tests: a lower multipart threshold)."""
    location = cfg.output_s3
    assert location is not None
    store = store or S3PartStore(location, access_of(cfg))
    try:
        store.check_bucket()
        layout = PartsLayout(store.staging, cfg.part_size, cfg.part_age, cfg.compress, 0o600)
        shown = store.url(MAIN)
        job = PartsExport(cfg, layout, shown, dict(spec), lock=store, target=store)
        previous = _load(store, overwrite=overwrite)
        recorded = parts_of(shown, previous) if previous is not None else []
        decide(job, previous, recorded, overwrite=overwrite)
        if job.complete is None:
            store.abort_uploads()
            listed = store.listing()
            if job.resume is not None:
                _check_present(store, listed, recorded)
                job.done = recorded
            numbers = [int(m.group(2)) for n in listed if (m := PART_NAME.fullmatch(n))]
            stamps = [m.group(1) for n in listed if (m := PART_NAME.fullmatch(n))]
            job.number = max([0, *numbers, *(p.number for p in recorded)]) + 1
            job.floor = max(stamps, default="")
    except BaseException:
        store.release()
        raise
    return job


def _load(store: S3PartStore, *, overwrite: bool) -> Checkpoint | None:
    try:
        return recover(store)
    except CheckpointError:
        if overwrite:
            return None
        raise


def recover(store: S3PartStore) -> Checkpoint | None:
    """The checkpoint to go on from: the main one, or the `next` one when it is the main
    one plus exactly one part and that part's object is there, whole, with the recorded
    size and sha256 (a run killed between putting the part and recording it done); that
    one is then put as the main checkpoint."""
    main, coming = store.read(MAIN), store.read(NEXT)
    if coming is None:
        return main
    done = [] if main is None else parts_of(store.url(MAIN), main)
    ahead = parts_of(store.url(NEXT), coming)
    if (
        len(ahead) != len(done) + 1
        or ahead[: len(done)] != done
        or (main is not None and main.spec != coming.spec)
        or not _is_there(store, ahead[-1])
    ):
        return main  # its part never became visible: written again from main's cursors
    store.put_checkpoint(MAIN, ckpt_mod.sealed(coming))
    return coming


def _is_there(store: S3PartStore, info: PartInfo) -> bool:
    found = store.head(info.name)
    if found is None:
        return False
    size, metadata = found
    if size != info.stored or metadata.get("sha256") != info.sha256:
        raise CheckpointError(
            f"{store.url(info.name)} is {size} bytes with sha256 {metadata.get('sha256')}, "
            f"its checkpoint {store.url(NEXT)} recorded {info.stored} and {info.sha256}: "
            f"another run wrote there; give each run its own prefix"
        )
    return True


def _check_present(store: S3PartStore, listed: dict[str, int], recorded: list[PartInfo]) -> None:
    """Each recorded part still under the prefix has its recorded size (a part taken
    away is taken as shipped, as in a directory: parts_export.py)."""
    for info in recorded:
        size = listed.get(info.name)
        if size is not None and size != info.stored:
            raise CheckpointError(
                f"{store.url(info.name)} is {size} bytes, its checkpoint {store.url(MAIN)} "
                f"recorded {info.stored}: the part was changed; restore it, or delete the "
                "checkpoint to start a new sweep there"
            )
