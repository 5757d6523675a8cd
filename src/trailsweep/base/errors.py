"""One error tree for trailsweep. Every error carries its exit code and a one-line message.

    TrailsweepError                 base; exit_code, one-line message for the user
    ├── InputError (2)              bad flag, value, time, attribute, JSON
    │   └── CompressedOutput (2)    an export's output named .gz, .zst, .bz2 or .xz
    ├── ConfigError (2)             unreadable or invalid config file
    ├── CheckpointError (2)         corrupt, mismatched or locked checkpoint
    │   ├── CheckpointMismatch (2)  written by another sweep
    │   └── CheckpointQueryInvalid (2)  its pinned question cannot be read back
    ├── StateError (2)              an incremental run's state file: corrupt, foreign,
    │                               or of another question
    ├── CredentialsError (2)        no usable base credentials before any call
    ├── ServerFailed (1)            STS / Organizations / Account / EC2 unreachable,
    │   │                           failing (5xx) or
    │   ├── BadAnswer (1)           answering what cannot be used (garbage, missing
    │   │                           fields, ids or region names of the wrong shape)
    │   └── TimedOut (1)            not answering within the call's timeouts
    ├── PairFailed (1)              one (account, region) pair could not complete
    │                               (AccessDenied, region not enabled, retry budget spent)
    ├── OutputFailed (1)            the output or checkpoint could not be written during
    │   │                           the run (disk full, EFBIG); the last checkpoint is kept
    │   └── CheckpointNotSaved (1)  the checkpoint in particular
    └── WorkerLost (1)              a worker process of a sweep (--workers) ended before
                                    its pairs were done; the sweep stopped, resumable

The CLI prints ``str(error)`` (with what to do about it, `cli.app.advised`) as one line
on stderr and exits with ``error.exit_code``.
Messages never contain secrets.
"""

from __future__ import annotations


class TrailsweepError(Exception):
    """Base of every error trailsweep raises on purpose: one line for the user (no
    secrets), and the exit code the CLI would give (base/errors.py draws the tree)::

        try:
            report = await trailsweep.export(settings, "events.ndjson")
        except trailsweep.TrailsweepError as err:
            print(err, file=sys.stderr)
            sys.exit(err.exit_code)
    """

    exit_code: int = 1

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code: str | None
        # The LookupEvents error code the same mistake earns from the API, when there is
        # one (lookup-events prints it the way the AWS CLI does).
        self.code = code

    def __str__(self) -> str:
        return self.message


class InputError(TrailsweepError):
    """Bad input from the user: a flag, a value, a time, an attribute, a JSON document.
    Raised before any call::

        try:
            settings = trailsweep.SweepSettings.build(page_size=99)
        except trailsweep.InputError as err:
            print(err)  # names the setting and what it takes
    """

    exit_code = 2


class ConfigError(InputError):
    """A config file that cannot be read or does not hold a valid sweep; an InputError
    too, so one `except` takes both::

        try:
            settings = trailsweep.SweepSettings.from_toml("sweep.toml")
        except trailsweep.ConfigError as err:
            print(err)  # the file, the key, what is wrong
    """


class CheckpointError(InputError):
    """A checkpoint that is corrupt, belongs to another query, or is locked by another
    run; the export refuses to start and touches nothing::

        try:
            await trailsweep.export(settings, "events.ndjson")
        except trailsweep.CheckpointError as err:
            print(err)  # what to run instead
    """


class StateError(InputError):
    """The state file of incremental runs (`--state`) is corrupt, of another version, of
    another question (other lookup attributes or filters), or names a run that must be
    finished first; nothing is called or written::

        except trailsweep.StateError as err:
            print(err)  # the file, what is wrong, what to do
    """


class CredentialsError(InputError):
    """No usable base credentials, found before any LookupEvents call (the session asks
    STS who the caller is first)::

        except trailsweep.CredentialsError:
            print("set AWS_PROFILE, or give access_key_id and secret_access_key")
    """


class ServerFailed(TrailsweepError):
    """A control-plane server (STS, Organizations, Account, EC2) failed us in a way that is
    not the user's input: the sweep cannot start (exit 1), or one account fails alone::

        except trailsweep.ServerFailed as err:  # BadAnswer and TimedOut too
            retry_later(err)
    """

    exit_code = 1


class BadAnswer(ServerFailed):
    """A server answered what trailsweep cannot use: not parseable, fields missing or of the
    wrong type, account ids that are not 12 digits, region names not shaped like one::

        except trailsweep.BadAnswer as err:
            report_to_the_endpoint_owner(err)
    """


class TimedOut(ServerFailed):
    """A control-plane call got no answer within its timeouts and retries (timeouts.py):
    the sweep cannot start without it (exit 1), or the account it concerns fails alone::

        except trailsweep.TimedOut:
            settings = trailsweep.SweepSettings.build(read_timeout=60, ...)
    """


class PairFailed(TrailsweepError):
    """One (account, region) pair could not complete; the others go on. A sweep lists such
    pairs in its report (`report.failed`); `lookup_events`, which has one, raises it::

        except trailsweep.PairFailed as err:
            print(err.account, err.region, err.code, err.reason)
    """

    exit_code = 1

    code: str

    def __init__(self, account: str, region: str, code: str, reason: str) -> None:
        super().__init__(f"{account}/{region}: {code}: {reason}", code=code)
        self.account = account
        self.region = region
        self.code = code
        self.reason = reason


class OutputFailed(TrailsweepError):
    """Writing the output or the checkpoint failed during the run (disk full, file too
    large, I/O error). Exit 1, not 2: calls were made and lines written; the checkpoint on
    disk holds only whole, fsynced lines, so the same command resumes byte-identically::

        except trailsweep.OutputFailed:
            report = await trailsweep.export(settings, path)  # once there is room: resumes
    """

    exit_code = 1


class WorkerLost(TrailsweepError):
    """A worker process of a sweep run in several (`workers`; engine/workers.py) ended
    before its pairs were done: killed, out of memory. The sweep stops as an interrupted
    one does: an export's checkpoint holds every pair where the merge left it, so the same
    export resumes byte for byte::

        except trailsweep.WorkerLost:
            report = await trailsweep.export(settings, path)  # resumes
    """

    exit_code = 1


# What happened, said by the library; the CLI adds what to do about it (cli.app.advised).
class CompressedOutput(InputError):
    """An export's output named as compressed (.gz, .zst, .bz2, .xz): an export cannot be
    resumed exactly inside a compressed stream."""


class CheckpointMismatch(CheckpointError):
    """The checkpoint beside `output` was written by another sweep than the one asked for."""

    def __init__(self, message: str, *, output: str) -> None:
        super().__init__(message)
        self.output = output


class CheckpointQueryInvalid(CheckpointError):
    """The question pinned in a checkpoint cannot be read back."""


class CheckpointNotSaved(OutputFailed):
    """The checkpoint could not be saved during the run; the previous one is kept."""
