"""What `--shard` takes, and the shard taken from the engine's own variables.

- `I/N`: shard I of N, 0 <= I < N <= `shards.MAX_SHARDS` (a CI matrix passes its own
  numbers as flags);
- `auto/N`: N shards, I from `JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job) or
  `AWS_BATCH_JOB_ARRAY_INDEX` (an AWS Batch array job);
- `auto`: I and N from `AWS_BATCH_JOB_ARRAY_INDEX` and `AWS_BATCH_JOB_ARRAY_SIZE`.
  Kubernetes gives a pod its index but not the Job's completions, so under an Indexed Job
  `auto` alone is refused: the count must be written (`auto/N`).

Decision: wherever two sources could disagree (both indexes set, or `auto/N` beside an
`AWS_BATCH_JOB_ARRAY_SIZE` of another N), the run is refused rather than one of them
picked: a shard taken from the wrong variable sweeps another shard's pairs, or leaves
some pairs to no shard, and no later check could see it.

The variables are read from a mapping the caller passes (the CLI passes `os.environ`,
tests a dict); nothing here reads the process's environment. Each refusal is an
InputError (exit 2) naming the problem and the fix, raised before any call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from trailsweep.base.errors import InputError
from trailsweep.settings.shards import MAX_SHARDS, Shard

KUBERNETES_INDEX = "JOB_COMPLETION_INDEX"
BATCH_INDEX = "AWS_BATCH_JOB_ARRAY_INDEX"
BATCH_SIZE = "AWS_BATCH_JOB_ARRAY_SIZE"

_FORM = re.compile(r"(auto|[0-9]{1,9})(?:/([0-9]{1,9}))?", re.ASCII)
_FORMS = f"give I/N (shard I of N, 0 <= I < N <= {MAX_SHARDS}), auto/N or auto"


def check_shard_text(value: object, option: str = "--shard") -> str:
    """`value` as `--shard` text, its form checked (the variables are read later, by
    `resolve_shard`); InputError naming `option` otherwise."""
    if not isinstance(value, str):
        raise InputError(f"{option}: {value!r} is not a shard; {_FORMS}")
    found = _FORM.fullmatch(value.strip())
    if found is None or (found.group(1) != "auto" and found.group(2) is None):
        raise InputError(f"{option}: cannot read {value[:40]!r} as a shard; {_FORMS}")
    if found.group(2) is not None:
        _count(found.group(2), option)
    return value.strip()


def resolve_shard(
    value: str | Shard | None, env: Mapping[str, str], option: str = "--shard"
) -> Shard | None:
    """The shard `value` names (`I/N`, `auto/N`, `auto`; see the module), reading the
    engine's variables from `env`; None for None."""
    if value is None or isinstance(value, Shard):
        return _checked(value, option) if isinstance(value, Shard) else None
    text = check_shard_text(value, option)
    first, _, second = text.partition("/")
    if first != "auto":
        return _checked(Shard(int(first), int(second)), option)
    if second:
        return _auto_of(_count(second, option), env, option)
    return _auto(env, option)


def _checked(shard: Shard, option: str) -> Shard:
    _count(str(shard.count), option)
    if not 0 <= shard.index < shard.count:
        raise InputError(
            f"{option}: {shard} has no shard {shard.index}: shards of {shard.count} are "
            f"numbered 0 to {shard.count - 1}"
        )
    return shard


def _count(text: str, option: str) -> int:
    count = int(text)
    if not 1 <= count <= MAX_SHARDS:
        raise InputError(f"{option}: {count} shards; give a count from 1 to {MAX_SHARDS}")
    return count


def _auto_of(count: int, env: Mapping[str, str], option: str) -> Shard:
    """`auto/N`: the index the engine set, checked against N (and against the Batch array's
    own size, when it gives one)."""
    where = f"{option} auto/{count}"
    size = _number(env, BATCH_SIZE, where)
    if size is not None and size != count:
        raise InputError(
            f"{where}: {BATCH_SIZE}={size} says the array has {size} jobs, not {count}; give "
            f"--shard auto (or auto/{size})"
        )
    index = _index(env, where)
    if index is None:
        raise InputError(
            f"{where}: neither {KUBERNETES_INDEX} (Kubernetes Indexed Job) nor {BATCH_INDEX} "
            "(AWS Batch array job) is set; run it as one of those, or give --shard I/N"
        )
    name, number = index
    if number >= count:
        raise InputError(
            f"{where}: {name}={number} is not below {count}; give --shard auto/N with N the "
            "Job's completions (the array's size)"
        )
    return Shard(number, count)


def _auto(env: Mapping[str, str], option: str) -> Shard:
    """`auto`: index and count from an AWS Batch array job."""
    where = f"{option} auto"
    index, size = _index(env, where), _number(env, BATCH_SIZE, where)
    if size is None:
        if index is not None and index[0] == KUBERNETES_INDEX:
            raise InputError(
                f"{where}: {KUBERNETES_INDEX} is set but Kubernetes does not give the count; "
                "use --shard auto/N with the Job's completions as N"
            )
        raise InputError(
            f"{where}: {BATCH_INDEX} and {BATCH_SIZE} (AWS Batch array job) are not both "
            "set; give --shard I/N, or --shard auto/N under a Kubernetes Indexed Job"
        )
    if index is None:
        raise InputError(
            f"{where}: {BATCH_SIZE} is set but no {BATCH_INDEX}; give --shard I/{size}"
        )
    if not 1 <= size <= MAX_SHARDS:
        raise InputError(
            f"{where}: {BATCH_SIZE}={size} is not a count from 1 to {MAX_SHARDS}; give --shard I/N"
        )
    return _auto_of(size, env, option)


def _index(env: Mapping[str, str], where: str) -> tuple[str, int] | None:
    """The index the engine set, and its variable's name; InputError if both engines'
    variables are set and differ."""
    kubernetes = _number(env, KUBERNETES_INDEX, where)
    batch = _number(env, BATCH_INDEX, where)
    if kubernetes is not None and batch is not None and kubernetes != batch:
        raise InputError(
            f"{where}: {KUBERNETES_INDEX}={kubernetes} and {BATCH_INDEX}={batch} disagree; "
            "unset the one that is not this job's, or give --shard I/N"
        )
    if kubernetes is not None:
        return KUBERNETES_INDEX, kubernetes
    return None if batch is None else (BATCH_INDEX, batch)


def _number(env: Mapping[str, str], name: str, where: str) -> int | None:
    """A variable's whole number (None: unset); InputError for anything else."""
    text = env.get(name)
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", text.strip(), re.ASCII):
        raise InputError(
            f"{where}: {name}={text[:20]!r} is not a whole number; unset it, or give --shard I/N"
        )
    return int(text.strip())
