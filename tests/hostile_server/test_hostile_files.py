"""Hostile files: full disks, torn writes, symlinks, shared locks and crafted checkpoints
(the export's files). Every sweep runs the real client against the emulator over HTTP;
in-process through `trailsweep.cli.app:main` unless a real process is the point (rlimits)."""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from trailsweep.cli.app import main
from trailsweep.emulator import EmulatorThread
from trailsweep.emulator.tamper import Call, Honest
from trailsweep.engine.pair import PairState
from trailsweep.engine.spool import BUDGET_ENV
from trailsweep.output import checkpoint as ckpt_mod
from trailsweep.settings.timeparse import format_time, from_epoch

from support import NOW_EPOCH, UseEmu, aws_env, run_cli, settings, wait_for

START, END = NOW_EPOCH - 4 * 3600, NOW_EPOCH - 1
FAST = {"rate": 10_000.0, "burst": 10_000.0}


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    """2 accounts x 2 regions, a quota no test waits on."""
    with EmulatorThread(settings(members=1, suspended=0, faults=FAST)) as emu:
        yield emu


@pytest.fixture
def env(emu: EmulatorThread, use_emu: UseEmu) -> dict[str, str]:
    """This process's AWS SDKs (and any subprocess given the result) point at `emu`."""
    use_emu(emu)
    return aws_env(emu)


def args(out: Path | str, *extra: str) -> list[str]:
    return [
        "sweep", "--accounts", "org", "--regions", "all", "--rate", "100", "--page-size", "20",
        "--start-time", format_time(from_epoch(START)), "--end-time", format_time(from_epoch(END)),
        "--output", str(out), "--no-progress", *extra,
    ]  # fmt: skip


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run `trailsweep ARGV` in this process: (exit code, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    code = exc.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def one_line(err: str, needle: str) -> None:
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err, err
    assert "Traceback" not in err, err


@pytest.fixture(scope="module")
def reference(emu: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of one uninterrupted export."""
    out = tmp_path_factory.mktemp("ref") / "ref.ndjson"
    result = subprocess.run(
        [sys.executable, "-m", "trailsweep", *args(out)], env=aws_env(emu),
        capture_output=True, stdin=subprocess.DEVNULL, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    data = out.read_bytes()
    assert data.count(b"\n") > 200
    return data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# 1. torn writes ------------------------------------------------------------------------


def _file_size_limit(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        # As `ulimit -f`: a write past `limit` bytes writes what fits, then fails with
        # EFBIG (SIGXFSZ ignored, as a shell that traps it would).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_file_size_limit_then_rerun_is_byte_identical(
    emu: EmulatorThread,
    env: dict[str, str],
    reference: bytes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Under `ulimit -f` the export stops with one line and exit 1, the checkpoint records
    only whole lines that reached the disk, and a rerun without the limit finishes the
    same bytes as an uninterrupted run (no torn line, no duplicates)."""
    out = tmp_path / "out.ndjson"
    limit = int(len(reference) * 0.55) + 7  # mid-line, on purpose
    limited = subprocess.run(
        [sys.executable, "-m", "trailsweep", *args(out)], env=env, capture_output=True,
        stdin=subprocess.DEVNULL, timeout=120, check=False, preexec_fn=_file_size_limit(limit),
    )  # fmt: skip
    err = limited.stderr.decode()
    assert limited.returncode == 1, err
    one_line(err, str(out))
    assert "resume" in err
    written = out.read_bytes()
    assert written == reference[: len(written)]  # only whole lines are left
    assert written.endswith(b"\n") or written == b""
    ckpt = ckpt_mod.load(ckpt_mod.default_path(out))
    assert not ckpt.finished
    assert ckpt.offset == len(written)
    code, err = cli(args(out), capsys)
    assert code == 0, err
    assert _sha(out.read_bytes()) == _sha(reference)


# 2. files an export cannot use --------------------------------------------------------


@pytest.fixture
def calls(emu: EmulatorThread) -> Iterator[list[str]]:
    """Every authenticated request the emulator gets during the test (operation names)."""
    seen: list[str] = []

    async def count(call: Call, honest: Honest) -> web.StreamResponse:
        seen.append(call.operation)
        return await honest()

    emu.set_tamper(count)
    yield seen
    emu.set_tamper(None)


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """`directory` takes no new files, for root too (chattr +i where mode bits do not bind)."""
    directory.chmod(0o555)
    immutable = os.access(directory, os.W_OK)  # root ignores the mode bits
    if immutable:
        subprocess.run(["chattr", "+i", str(directory)], check=True, capture_output=True)
    try:
        assert not os.access(directory, os.W_OK)
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True, capture_output=True)
        directory.chmod(0o755)


def refused_before_anything(
    argv: list[str], needle: str, calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = cli(argv, capsys)
    assert code == 2, err
    one_line(err, needle)
    assert calls == []


def test_device_output_is_refused_before_any_call(
    env: dict[str, str], calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--output /dev/full (or /dev/null): not a file an export can cut back and resume;
    exit 2 before any call, and nothing created in /dev."""
    for device in ("/dev/full", "/dev/null"):
        refused_before_anything(args(device), "stdout", calls, capsys)
        assert not Path(device + ".checkpoint.json.lock").exists()
        assert not Path(device + ".checkpoint.json").exists()


def test_fifo_output_is_refused_without_waiting_for_a_reader(
    emu: EmulatorThread, env: dict[str, str], tmp_path: Path
) -> None:
    """--output FIFO: exit 2 at once (no open that waits for a reader), nothing created.
    (A process: on today's code the open blocks, and the timeout is the failure.)"""
    fifo = tmp_path / "pipe.ndjson"
    os.mkfifo(fifo)
    result = run_cli(args(fifo), env=env, timeout=60)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    one_line(err, "FIFO")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.ndjson"]


def test_dev_stdout_output_is_refused(emu: EmulatorThread, env: dict[str, str]) -> None:
    """--output /dev/stdout names a descriptor (a pipe here), not a resumable file: exit 2
    with the alternative (leave out --output); stdout stays empty. (A process: fd 1.)"""
    result = run_cli(args("/dev/stdout"), env=env, timeout=60)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    one_line(err, "leave out --output")
    assert result.stdout == b""
    assert not Path("/dev/stdout.checkpoint.json.lock").exists()


def test_stdout_on_a_full_disk_is_one_line_exit_1(emu: EmulatorThread, env: dict[str, str]) -> None:
    """`trailsweep sweep > /dev/full`: one line naming ENOSPC, exit 1, no traceback."""
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [sys.executable, "-m", "trailsweep", *args("-")], env=env, stdout=full,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60, check=False,
        )  # fmt: skip
    err = result.stderr.decode()
    assert result.returncode == 1, err
    one_line(err, "ENOSPC")


def test_missing_or_read_only_checkpoint_directory_is_refused(
    env: dict[str, str], calls: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--checkpoint in a directory that does not exist, or takes no new files: exit 2 before
    any call, no output, no lock left behind."""
    out = tmp_path / "out.ndjson"
    missing = tmp_path / "nope" / "ck.json"
    refused_before_anything(
        args(out, "--checkpoint", str(missing)), "does not exist", calls, capsys
    )
    locked = tmp_path / "ro"
    locked.mkdir()
    with read_only(locked):
        refused_before_anything(
            args(out, "--checkpoint", str(locked / "ck.json")), "read-only", calls, capsys
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro"]
    assert list(locked.iterdir()) == []


def test_unwritable_output_directory_is_refused(
    env: dict[str, str], calls: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--output in a directory that takes no new files: exit 2 before any call."""
    locked = tmp_path / "ro"
    locked.mkdir()
    with read_only(locked):
        refused_before_anything(args(locked / "out.ndjson"), str(locked), calls, capsys)
    assert list(locked.iterdir()) == []


# 3. planted symlinks --------------------------------------------------------------------

VICTIM = b"precious: must survive any sweep\n"


def test_planted_checkpoint_temp_symlink_is_not_followed(
    env: dict[str, str], reference: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A symlink planted at `<checkpoint>.tmp` (the old fixed temp name) pointing at a
    victim: the export writes its checkpoint through a fresh temp file of its own, the
    victim keeps its bytes, and the export is complete."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(VICTIM)
    out = tmp_path / "out.ndjson"
    ckpt = ckpt_mod.default_path(out)
    planted = ckpt.with_name(ckpt.name + ".tmp")
    planted.symlink_to(victim)
    code, err = cli(args(out, "--checkpoint-interval", "0.01"), capsys)
    assert code == 0, err
    assert victim.read_bytes() == VICTIM
    assert out.read_bytes() == reference
    assert ckpt_mod.load(ckpt).finished
    assert planted.is_symlink()  # not ours: left as it was
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and p != planted]


def test_temps_a_killed_run_left_are_removed_and_nothing_else(
    env: dict[str, str], reference: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run killed between a checkpoint's temp file and its rename leaves the temp file
    behind: the next run removes it once it holds the lock; a symlink at such a name, a
    name atomic_write does not make and another checkpoint's temp are left alone."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(VICTIM)
    out = tmp_path / "out.ndjson"
    ckpt = ckpt_mod.default_path(out)
    stale = [tmp_path / f".{ckpt.name}.{middle}.tmp" for middle in ("k3_9zq0a", "00000000")]
    for temp in stale:
        temp.write_bytes(b'{"sha256":"torn')
    planted = tmp_path / f".{ckpt.name}.zzzzzzzz.tmp"
    planted.symlink_to(victim)
    others = [tmp_path / f".{ckpt.name}.short.tmp", tmp_path / ".other.json.k3_9zq0a.tmp",
              tmp_path / f".{ckpt.name}.K3_9ZQ0A.tmp"]  # fmt: skip
    for other in others:
        other.write_bytes(VICTIM)
    code, err = cli(args(out), capsys)
    assert code == 0, err
    assert out.read_bytes() == reference
    assert not any(temp.exists() for temp in stale)
    assert planted.is_symlink()
    assert victim.read_bytes() == VICTIM
    assert all(other.read_bytes() == VICTIM for other in others)


@pytest.mark.parametrize("kind", ["symlink", "dangling symlink", "hard link"])
def test_planted_lock_link_is_refused_and_its_target_untouched(
    env: dict[str, str], calls: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:  # fmt: skip
    """A symlink or hard link planted at the lock's name: exit 2 before any call, the file
    it points to neither truncated nor created, the planted link left alone."""
    victim = tmp_path / "victim.txt"
    out = tmp_path / "out.ndjson"
    lock = ckpt_mod.default_path(out).with_name(out.name + ".checkpoint.json.lock")
    if kind == "hard link":
        victim.write_bytes(VICTIM)
        os.link(victim, lock)
    else:
        if kind == "symlink":
            victim.write_bytes(VICTIM)
        lock.symlink_to(victim)
    refused_before_anything(args(out), "left alone", calls, capsys)
    if kind == "dangling symlink":
        assert not victim.exists()
    else:
        assert victim.read_bytes() == VICTIM
    assert lock.is_symlink() or lock.stat().st_nlink == 2
    assert not out.exists()


# 4. one lock per output file; files that collide ---------------------------------------


def _locks(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".lock"))


def test_lock_is_keyed_on_the_output_file_not_its_spelling(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """While one run writes real.ndjson, a run reaching it through a symlink, or naming
    another --checkpoint, is refused (exit 2, one line) and leaves no lock of its own."""
    real = tmp_path / "real.ndjson"
    link = tmp_path / "link.ndjson"
    link.symlink_to(real)
    first = subprocess.Popen(
        [sys.executable, "-m", "trailsweep", *args(real, "--rate", "0.5")], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        lock = tmp_path / "real.ndjson.checkpoint.json.lock"
        taken = wait_for(lambda: lock.exists() and bool(lock.read_text()), timeout=60, proc=first)
        assert taken and first.poll() is None
        for argv in (args(link), args(real, "--checkpoint", str(tmp_path / "other.json"))):
            code, err = cli(argv, capsys)
            assert code == 2, err
            one_line(err, "another trailsweep")
            assert _locks(tmp_path) == [lock.name]
        assert first.poll() is None  # the first run was never disturbed
    finally:
        first.kill()
        first.wait(timeout=30)
    assert not (tmp_path / "other.json").exists()
    assert not (tmp_path / "link.ndjson.checkpoint.json").exists()


def test_checkpoint_or_summary_naming_the_output_is_refused(
    env: dict[str, str], calls: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--checkpoint or --summary-json equal to (or resolving to) --output would overwrite
    the export: exit 2 before any call, the existing output untouched, no lock left."""
    out = tmp_path / "out.ndjson"
    out.write_bytes(VICTIM)
    alias = tmp_path / "alias.json"
    alias.symlink_to(out)
    other = str(tmp_path / "c.json")
    cases = [
        args(out, "--checkpoint", str(out)),
        args(out, "--checkpoint", str(alias)),
        args(out, "--summary-json", str(out)),
        args(out, "--summary-json", str(alias)),
        args(out, "--checkpoint", other, "--summary-json", other),
    ]  # fmt: skip
    for argv in cases:
        refused_before_anything(argv, "the same file", calls, capsys)
        assert out.read_bytes() == VICTIM
        assert _locks(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alias.json", "out.ndjson"]


def test_refused_checkpoint_leaves_no_lock(
    env: dict[str, str], calls: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt checkpoint is refused (exit 2, before any call) and no .lock stays behind."""
    out = tmp_path / "out.ndjson"
    out.write_bytes(VICTIM)
    ckpt_mod.default_path(out).write_bytes(b'{"sha256":"00","body":{}}\n')
    refused_before_anything(args(out), "corrupt", calls, capsys)
    assert out.read_bytes() == VICTIM
    assert _locks(tmp_path) == []


# 5. checkpoints edited with their sha256 recomputed -------------------------------------


# A change to a loaded checkpoint, made before it is saved again.
Edit = Callable[[ckpt_mod.Checkpoint], object]


def _edit(path: Path, original: bytes, change: Edit) -> None:
    """Rewrite the checkpoint with `change(body)` applied and a correct sha256."""
    path.write_bytes(original)
    ckpt = ckpt_mod.load(path)
    change(ckpt)
    ckpt_mod.save(path, ckpt)


def _writer(ckpt: ckpt_mod.Checkpoint) -> PairState:
    """The first pair with events written."""
    return next(p for p in ckpt.pairs if p.cursor.written)


def test_edited_checkpoint_with_fixed_hash_is_refused(
    env: dict[str, str], reference: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint whose query drops a filter, widens the window, or whose pairs add or
    drop an account or a region (sha256 recomputed, spec left alone) is refused with exit 2
    naming the mismatch; the output is untouched and no lock stays. The checkpoint as
    written resumes."""
    accounts = sorted({orjson.loads(line)["account"] for line in reference.splitlines()})
    out = tmp_path / "out.ndjson"
    question = args(
        out, "--accounts", ",".join(accounts), "--regions", "us-east-1,eu-west-1",
        "--lookup-attributes", "AttributeKey=ReadOnly,AttributeValue=false",
        "--where", "userIdentity.type exists",
    )  # fmt: skip
    code, err = cli(question, capsys)
    assert code == 0, err
    path = ckpt_mod.default_path(out)
    done = ckpt_mod.load(path)
    done.finished = False  # as if stopped right after its last line
    ckpt_mod.save(path, done)
    original, before = path.read_bytes(), out.read_bytes()

    def add_pair(c: ckpt_mod.Checkpoint, account: str, region: str) -> None:
        c.pairs.append(PairState(account, region))

    edits = {
        "attributes": lambda c: c.query.update(attributes=[]),
        "where": lambda c: c.query.update(where=[]),
        "start": lambda c: c.query.update(start=format_time(from_epoch(START - 3600))),
        "page_size": lambda c: c.query.update(page_size=7),
        "999999999999": lambda c: add_pair(c, "999999999999", "us-east-1"),
        "twice": lambda c: add_pair(c, accounts[0], "us-east-1"),
        "us-west-2": lambda c: add_pair(c, accounts[0], "us-west-2"),
        "have no pair": lambda c: c.pairs.__setitem__(slice(None), c.pairs[2:]),
        "order": lambda c: c.pairs.reverse(),
        "never ran": lambda c: setattr(_writer(c), "state", "pending"),
        "its total says": lambda c: setattr(c, "written", c.written + 1),
    }
    for needle, change in edits.items():
        _edit(path, original, change)
        code, err = cli(question, capsys)
        assert code == 2, (needle, err)
        one_line(err, "does not agree")
        assert needle in err, err
        assert out.read_bytes() == before
        assert _locks(tmp_path) == []
    path.write_bytes(original)
    code, err = cli(question, capsys)
    assert code == 0, err
    assert out.read_bytes() == before


def _matrix_edits(reference: bytes) -> dict[str, tuple[str, Edit]]:
    """Edits of a discovered matrix's checkpoint, each with what its refusal says."""

    def rename(c: ckpt_mod.Checkpoint) -> None:
        # The last pair: the matrix stays sorted, so only its lines in the output tell.
        c.pairs[-1].account = "999999999999"

    last_line = len(reference) - reference.rindex(b"\n", 0, len(reference) - 1) - 1

    def back_one_line(c: ckpt_mod.Checkpoint) -> None:
        # At a line's end, with the sha256 of the bytes up to there: only the count of
        # lines the pairs say they wrote tells.
        c.offset -= last_line
        c.output_sha256 = _sha(reference[: c.offset])

    return {
        "removed pair": ("count", lambda c: c.pairs.pop(1)),
        "renamed account": ("which is not among its pairs", rename),
        "offset +1000": ("does not end a line", lambda c: setattr(c, "offset", c.offset + 1000)),
        "offset -5000": ("does not end a line", lambda c: setattr(c, "offset", c.offset - 5000)),
        "offset 0": ("sha256", lambda c: setattr(c, "offset", 0)),
        "offset at a line end": (
            "sha256", lambda c: setattr(c, "offset", c.offset - last_line)
        ),
        "offset and sha256": ("lines up to byte", back_one_line),
    }  # fmt: skip


def test_edited_discovered_matrix_or_offset_and_changed_output_are_refused(
    env: dict[str, str], reference: bytes, calls: list[str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """An 'org'/'all' export (its matrix discovered, so no spec to hold the pairs to):
    a checkpoint with a written pair removed, a pair's account renamed, its offset moved
    up, down or to 0 (sha256 recomputed each time), or an output with bytes changed
    inside the recorded length: each is exit 2 with one line before any call, the output
    untouched byte for byte, no lock left. The files as the export left them resume."""
    out = tmp_path / "out.ndjson"
    code, err = cli(args(out), capsys)
    assert code == 0, err
    assert out.read_bytes() == reference
    path = ckpt_mod.default_path(out)
    done = ckpt_mod.load(path)
    done.finished = False  # as if killed right after its last checkpoint
    ckpt_mod.save(path, done)
    original = path.read_bytes()
    # A killed run leaves lines past its last checkpoint (whole lines of the reference
    # here): the offset moved up lands inside the file, not past its end.
    past = reference[: reference.index(b"\n", 6000) + 1]
    out.write_bytes(reference + past)
    before = out.read_bytes()
    assert len(done.pairs) == 4 and all(p.cursor.written for p in done.pairs)
    calls.clear()

    for name, (needle, change) in _matrix_edits(reference).items():
        _edit(path, original, change)
        code, err = cli(args(out), capsys)
        assert code == 2, (name, err)
        one_line(err, needle)
        assert out.read_bytes() == before, name
        assert _locks(tmp_path) == []
        assert calls == [], name
    path.write_bytes(original)
    middle = len(reference) // 2
    at = reference.index(b'"EventName":"', middle) + len(b'"EventName":"')
    changed = bytearray(before)
    changed[at] = ord("X") if changed[at] != ord("X") else ord("Y")  # same length
    out.write_bytes(bytes(changed))
    code, err = cli(args(out), capsys)
    assert code == 2, err
    one_line(err, "sha256")
    assert out.read_bytes() == bytes(changed)
    assert calls == []
    out.write_bytes(before)
    code, err = cli(args(out), capsys)
    assert code == 0, err
    assert out.read_bytes() == reference


def test_checkpoint_of_relative_times_resumes(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ages ("3h") pin the window when the export starts: the check above accepts the
    checkpoint of such an export, whenever it is resumed."""
    out = tmp_path / "out.ndjson"
    question = ["sweep", "--regions", "us-east-1", "--start-time", "3h", "--end-time", "1h",
                "--rate", "100", "--output", str(out), "--no-progress"]  # fmt: skip
    code, err = cli(question, capsys)
    assert code == 0, err
    path = ckpt_mod.default_path(out)
    done = ckpt_mod.load(path)
    done.finished = False
    ckpt_mod.save(path, done)
    before = out.read_bytes()
    code, err = cli(question, capsys)
    assert code == 0, err
    assert out.read_bytes() == before
    assert ckpt_mod.load(path).finished


# 6. file modes ------------------------------------------------------------------------


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_files_are_0600_unless_file_mode_says_otherwise(
    env: dict[str, str], reference: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under umask 000 the output, the summary and the checkpoint an export creates are
    0600 (they hold full CloudTrail records); --file-mode 640 makes output and summary
    0640 whatever the umask; a file that exists keeps its mode."""
    out, summary = tmp_path / "out.ndjson", tmp_path / "summary.json"
    with umask(0):
        code, err = cli(args(out, "--summary-json", str(summary)), capsys)
        assert code == 0, err
        assert out.read_bytes() == reference
        assert [_mode(p) for p in (out, summary, ckpt_mod.default_path(out))] == [0o600] * 3
        other, other_summary = tmp_path / "other.ndjson", tmp_path / "other.json"
        argv = args(other, "--summary-json", str(other_summary), "--file-mode", "640")
        code, err = cli(argv, capsys)
        assert code == 0, err
        assert [_mode(other), _mode(other_summary)] == [0o640, 0o640]
    with umask(0o077):
        kept, kept_summary = tmp_path / "kept.ndjson", tmp_path / "kept.json"
        for existing in (kept, kept_summary):
            existing.write_bytes(b"")
            existing.chmod(0o644)
        code, err = cli(args(kept, "--summary-json", str(kept_summary)), capsys)
        assert code == 0, err
        assert [_mode(kept), _mode(kept_summary)] == [0o644, 0o644]


@pytest.mark.parametrize("bad", ["", "999", "64", "6400", "rw-r-----", "0o1640", "400", "077"])
def test_bad_file_mode_is_refused_before_any_call(
    env: dict[str, str], calls: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    bad: str,
) -> None:  # fmt: skip
    """--file-mode takes 3 octal digits that leave the owner read and write: anything else
    is exit 2, one line, before any call, nothing created."""
    refused_before_anything(
        args(tmp_path / "o.ndjson", "--file-mode", bad), "--file-mode: ", calls, capsys
    )
    assert list(tmp_path.iterdir()) == []


# 2b. no room for the spool ------------------------------------------------------------


def test_no_room_to_spool_keeps_pages_in_memory(
    env: dict[str, str], reference: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Every waiting page is spooled (budget 0) but the temporary directory takes no files:
    one warning, the pages wait in memory, and the export is complete and exact."""
    monkeypatch.setenv(BUDGET_ENV, "0")
    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    out = tmp_path / "out.ndjson"
    with read_only(spool_dir):
        code, err = cli(args(out), capsys)
    assert code == 0, err
    assert "Traceback" not in err
    assert err.count("cannot spool") == 1, err
    assert out.read_bytes() == reference


def test_checkpoint_directory_turning_read_only_mid_run_is_exit_1_then_resumes(
    emu: EmulatorThread, env: dict[str, str], reference: bytes, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The checkpoint's directory stops taking files halfway (the 10th LookupEvents call):
    one line naming the checkpoint, exit 1, the last good checkpoint kept; once writable
    again the same command finishes the same bytes as one run."""
    ck_dir = tmp_path / "ck"
    ck_dir.mkdir()
    out = tmp_path / "out.ndjson"
    argv = args(out, "--checkpoint", str(ck_dir / "ck.json"), "--checkpoint-interval", "0.01")
    seen: list[str] = []
    with ExitStack() as stack:

        async def freeze(call: Call, honest: Honest) -> web.StreamResponse:
            seen.append(call.operation)
            if seen.count("LookupEvents") == 10:
                stack.enter_context(read_only(ck_dir))
            return await honest()

        emu.set_tamper(freeze)
        try:
            code, err = cli(argv, capsys)
        finally:
            emu.set_tamper(None)
    assert code == 1, err
    one_line(err, "cannot save the checkpoint")
    # A save the directory turned read-only under, between its temp file and the rename,
    # cannot remove that temp file (a read-only directory takes no unlink either): one may
    # be left. The rerun, holding the lock, removes it.
    assert len([p for p in ck_dir.iterdir() if p.name.endswith(".tmp")]) <= 1
    code, err = cli(argv, capsys)
    assert code == 0, err
    assert _sha(out.read_bytes()) == _sha(reference)
    assert sorted(p.name for p in ck_dir.iterdir()) == ["ck.json"]
