"""Run the real `trailsweep` command line in this process, stdio captured as bytes.

A subprocess costs ~0.7 s of CPU per run importing aioboto3 and botocore; the hostile-server
and fuzz tests run hundreds of command lines, and the incremental, resume and output tests
run the same command again and again, so they call `trailsweep.cli.app:main` here instead,
with the environment and stdio of a real run and restored after it (`run_main`, or
`run_here` for `support.run_cli`'s answer). What only a process shows stays tested with
one (`support.run_cli`, Popen): SIGKILL and signals, `python -m trailsweep` itself, and
whatever an interpreter prints as it exits.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from trailsweep.cli.app import main


@dataclass(frozen=True)
class Ran:
    """What a command line did: its exit code, its stdout bytes, its stderr text."""

    code: int
    out: bytes
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ with every AWS_* variable replaced by those of `env`, then restored."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def interrupted_when(out: io.BytesIO, marker: bytes | None) -> Iterator[None]:
    """Ctrl-C for the block once `marker` shows up in `out` (a server's ready line): a
    watcher thread polls for it and sends SIGINT, which raises KeyboardInterrupt only
    while the block runs (a signal landing after it is ignored, never in the caller)."""
    if marker is None:
        yield
        return
    inside = threading.Event()
    done = threading.Event()
    main = threading.main_thread().ident
    assert main is not None

    def handler(signum: int, frame: FrameType | None) -> None:
        if inside.is_set():
            raise KeyboardInterrupt

    def watch() -> None:
        while not done.wait(0.005):
            if marker in out.getvalue():
                break
        # To the main thread itself: a process-wide signal may land on another thread,
        # and the main one would sleep on in epoll_wait, never told. Again each half
        # second while the block runs: now and then the first KeyboardInterrupt lands
        # where asyncio or aiohttp swallows it (about 1 run in 1,000).
        while not done.is_set():
            signal.pthread_kill(main, signal.SIGINT)
            done.wait(0.5)

    previous = signal.signal(signal.SIGINT, handler)
    watcher = threading.Thread(target=watch, name="interrupter", daemon=True)
    inside.set()
    watcher.start()
    try:
        yield
    finally:
        inside.clear()
        done.set()
        watcher.join()
        signal.signal(signal.SIGINT, previous)


def run_main(args: list[str], env: Mapping[str, str], *, stop_at: bytes | None = None) -> Ran:
    """`trailsweep ARGS` in this process with `env`'s AWS settings; never raises SystemExit.
    `stop_at`: press Ctrl-C once stdout shows it (for commands that serve until then)."""
    code, out, err = _main(args, environment(env), stop_at)
    return Ran(code, out, err.decode("utf-8", errors="backslashreplace"))


@contextmanager
def exactly(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ exactly `env` (as a subprocess given `env` has it), then restored."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_here(
    args: list[str], env: Mapping[str, str] | None = None, cwd: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    """What `support.run_cli(args, env, cwd)` answers (exit code, stdout and stderr bytes),
    from `trailsweep ARGS` run in this process: `env` is the whole environment (None: this
    process's), `cwd` the working directory for the run."""
    where = contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext()
    with where:
        code, out, err = _main(args, exactly(env) if env is not None else contextlib.nullcontext())
    return subprocess.CompletedProcess(["trailsweep", *args], code, out, err)


def _main(
    args: list[str], env: contextlib.AbstractContextManager[None], stop_at: bytes | None = None
) -> tuple[int, bytes, bytes]:
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = stdout, stderr
    code: int = 0
    try:
        with env, interrupted_when(out, stop_at):
            main(args)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.stdout, sys.stderr = saved
        stdout.flush()
        stderr.flush()
    return code, out.getvalue(), err.getvalue()
