"""An emulator for a test: `running_emulator` serves CloudTrail (and STS, Organizations,
Account, EC2) on 127.0.0.1 in a background thread for the length of a `with` block, and
yields where it is, whose keys work there, and the ground truth to compare with.

    with running_emulator(seed=3) as emu:
        expected = [e["EventId"] for e in emu.truth(emu.account, emu.region)]
        found = run_code_under_test(env=emu.env())  # any AWS SDK or CLI, sent there
        assert found == expected                    # (trailsweep's settings: emu.connection)

Its data are fixed by `seed` and `now` (the current hour, UTC, unless given): the same
seed gives the same accounts, keys and events in every run, and two seeds give two
different organizations, so two emulators side by side never answer alike.

With `lag=True` it delays each event's delivery the way CloudTrail does (about 5
minutes, some up to 15; trailsweep.emulator.lag): LookupEvents shows an event only once
the data clock has passed its arrival. The data clock stands still until the test steps
it, so a test of a poller reads like a timeline:

    with running_emulator(seed=3, lag=True) as emu:
        seen = poll_once(env=emu.env())                         # the code under test
        assert seen == ids(emu.truth(emu.account, emu.region))  # what has arrived
        emu.advance(600)                                        # ten minutes later
        seen += poll_once(env=emu.env())
        everything = emu.truth(emu.account, emu.region, everything=True)
        arrivals = emu.arrivals(emu.account, emu.region, everything=True)
        late = [e for e in everything if arrivals[e["EventId"]] > emu.now]  # not yet
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from trailsweep.emulator import AWS_LAG, EmulatorSettings, EmulatorThread, Faults
from trailsweep.emulator.clock import Clock


class Connection(TypedDict):
    """Where the emulator is and the management account's keys, by the names trailsweep's
    settings (and `SessionPool`) give them: pass it as `**emu.connection`."""

    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True, slots=True)
class RunningEmulator:
    """A running emulator: where it listens, the management account's keys, its truth.

    `thread` is the `EmulatorThread` itself, for what a test does beyond this (faults
    changed mid-run with `set_faults`, a `set_tamper` hook, `stats`)."""

    url: str
    region: str  # the first enabled region: where a client without one is sent
    account: str  # the management account, whose keys these are
    access_key_id: str
    secret_access_key: str
    accounts: tuple[str, ...]  # every account, the management one first
    regions: tuple[str, ...]  # enabled in every account
    thread: EmulatorThread

    @property
    def now(self) -> int:
        """The emulator's data clock, epoch seconds: its newest events are at most this
        recent (pinned at `now` unless the emulator runs `realtime` or a `clock_speed`,
        or the test steps it with `advance` or `set_now`)."""
        return self.thread.emulator.data_now()

    def advance(self, seconds: float) -> int:
        """Step the data clock `seconds` (>= 0) forward; its new time, epoch seconds.
        Events keep coming as it moves: `emu.advance(3600)` is an hour later, with an
        hour's new events, and those of the hour before that have arrived since.
        Backwards is a `SettingsError`."""
        return self.thread.advance(seconds)

    def set_now(self, epoch: float) -> int:
        """Step the data clock to `epoch` seconds; its new time. Never backwards (a
        `SettingsError`): `emu.set_now(emu.now + 900)` is `emu.advance(900)`."""
        return self.thread.set_now(epoch)

    def set_speed(self, speed: float) -> None:
        """Run the data clock at `speed` data seconds per wall-clock second from now on
        (1: real time, 60: an hour a minute; 0: still until stepped, the default)."""
        self.thread.set_speed(speed)

    @property
    def connection(self) -> Connection:
        """Keywords that point trailsweep's settings at this emulator as its management
        account: `endpoint_url`, `region`, `access_key_id`, `secret_access_key` (the
        names of those fields of the sweep's settings and of `SessionPool`)."""
        return {
            "endpoint_url": self.url,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        }

    def env(self) -> dict[str, str]:
        """This process's environment with every AWS_* variable replaced by ones that send
        any AWS SDK or CLI (a `trailsweep` subprocess included) here, as the management
        account, reading no config or credentials file."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.url,
            AWS_ACCESS_KEY_ID=self.access_key_id,
            AWS_SECRET_ACCESS_KEY=self.secret_access_key,
            AWS_DEFAULT_REGION=self.region,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )
        return env

    def truth(
        self, account: str, region: str, *, start: int | None = None, end: int | None = None,
        attribute: tuple[str, str] | None = None, insight: bool = False,
        as_of: int | None = None, everything: bool = False,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Exactly what a complete LookupEvents query of `account` in `region` returns, in
        the API's order (newest first), each event as the API's JSON has it (EventTime in
        epoch seconds, CloudTrailEvent a string). `start` and `end` are epoch seconds,
        both included; `attribute` is a (key, value) lookup attribute.

        With delivery lag on, that is what has arrived by the data clock's now; `as_of=T`
        answers for the moment the clock reads T instead (what a query then returns, the
        lag settings unchanged), and `everything=True` returns every event that has
        happened by then (EventTime <= now, or <= T), arrived or not:

            ahead = emu.truth(a, r, as_of=emu.now + 900)   # what shows 15 minutes on
            emu.advance(900)
            assert emu.truth(a, r) == ahead
        """
        return self.thread.truth(
            account, region, start=start, end=end, attribute=attribute, insight=insight,
            as_of=as_of, everything=everything,
        )  # fmt: skip

    def arrivals(
        self, account: str, region: str, *, start: int | None = None, end: int | None = None,
        attribute: tuple[str, str] | None = None, insight: bool = False,
        as_of: int | None = None, everything: bool = False,
    ) -> dict[str, int]:  # fmt: skip
        """When each event `truth` returns for the same arguments arrives: EventId ->
        epoch seconds (its EventTime plus its delivery delay), in `truth`'s order.

            times = emu.arrivals(a, r, everything=True)
            late = {i: t for i, t in times.items() if t > emu.now}  # not delivered yet
        """
        return self.thread.arrivals(
            account, region, start=start, end=end, attribute=attribute, insight=insight,
            as_of=as_of, everything=everything,
        )  # fmt: skip


def current_hour() -> datetime:
    """The start of this hour, UTC: the default `now` of `running_emulator`."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@contextmanager
def running_emulator(
    seed: int = 7,
    *,
    now: datetime | None = None,
    faults: Faults | dict[str, Any] | None = None,
    clock: Clock | None = None,
    lag: bool = False,
    **settings: Any,
) -> Iterator[RunningEmulator]:
    """An emulator serving for the length of the block (see the module's docstring).

    `now` pins its data clock (default: the current hour), from which its random draws
    are counted too, so "the last N hours" hold the same events whenever a test runs
    (no idle days and no office hours either, unless `idle_day_share` and `diurnal` say
    otherwise);
    `faults` are its limits and trouble (`Faults` or a dict of its fields; default: the
    real quota, 2 calls a second per pair); `clock` is its clock (`ManualClock` makes
    credentials and NextTokens expire when the test says); `lag=True` turns on CloudTrail's
    delivery lag with AWS's stated times (`trailsweep.emulator.AWS_LAG`; `faults` can set
    `lag_median`, `lag_tail_share` and `lag_tail_max` instead); any other keyword is an
    `EmulatorSettings` field (`members`, `regions`, `events_per_day`, `clock_speed`, ...).
    A setting it cannot take raises `trailsweep.emulator.SettingsError` before anything
    starts."""
    pinned = now if now is not None else current_hour()
    # What a window "the last N hours" holds must not depend on when the test runs: the
    # draws count hours from `now`, and no day is idle or quieter for being a weekend.
    settings.setdefault("draw_origin", pinned)
    settings.setdefault("idle_day_share", 0.0)
    settings.setdefault("diurnal", False)
    if isinstance(faults, dict):
        faults = Faults(**({**AWS_LAG, **faults} if lag else faults))
    elif lag and (faults is None or faults.lag().off):
        faults = Faults(**{**(faults.as_dict() if faults else {}), **AWS_LAG})
    made = EmulatorSettings(seed=seed, now=pinned, faults=faults or Faults(), **settings)
    thread = EmulatorThread(made) if clock is None else EmulatorThread(made, clock=clock)
    with thread:
        info = thread.emulator.ready_info()
        world = thread.emulator.world
        yield RunningEmulator(
            url=info["url"],
            region=info["region"],
            account=info["account"],
            access_key_id=info["access_key_id"],
            secret_access_key=info["secret_access_key"],
            accounts=tuple(a.id for a in world.accounts),
            regions=tuple(made.regions),
            thread=thread,
        )
