"""Run the real `trailsweep` command line in this process, stdio captured as bytes.

A subprocess costs ~0.5 s of interpreter start-up per run; the hostile-server and fuzz
tests run hundreds of command lines, so they call `trailsweep.cli.app:main` here instead,
with the environment and stdio of a real run and restored after it.
"""

from __future__ import annotations

import io
import os
import signal
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
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = stdout, stderr
    code: int = 0
    try:
        with environment(env), interrupted_when(out, stop_at):
            main(args)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.stdout, sys.stderr = saved
        stdout.flush()
        stderr.flush()
    return Ran(code, out.getvalue(), err.getvalue().decode("utf-8", errors="backslashreplace"))
