"""Event history of every (account, region), generated lazily and deterministically.

Time is cut into hours. What happens in an hour of a pair is a pure function of
(seed, account, region, hour), so any hour can be generated on demand, in any order, in any
process, and always comes out the same: nothing is materialized beyond a small LRU cache of
hours, and memory stays flat however many pairs and days are asked for.

Within an hour events are ordered newest first; ties (same second) keep generation order.
An event's position ``(hour, rank)`` is what NextTokens point at.

Volume has realistic shape: pairs fall in busy, normal and quiet tiers (busy over quiet =
``skew``), each principal works its own hours (people weekdays, machines always: see
activity.py), some days are idle, some hours burst.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace

from trailsweep.emulator.activity import (
    Activity,
    lookup_identity,
    openers,
    opening_template,
    session_key,
)
from trailsweep.emulator.catalog import CONSOLE_LOGIN, INSIGHT_TEMPLATES
from trailsweep.emulator.event import Event
from trailsweep.emulator.lag import Lag, draw_of
from trailsweep.emulator.render import event_ctx, lookup_resources, render_event
from trailsweep.emulator.settings import EmulatorSettings
from trailsweep.emulator.template import Template
from trailsweep.emulator.world import stable_hash

HOUR = 3600
_CACHE_EVENTS = 60_000  # events kept rendered in the LRU cache (about 90 MB at most)


class _Block:
    __slots__ = ("events", "rendered")

    def __init__(self, events: tuple[Event, ...]) -> None:
        self.events = events
        self.rendered: list[bytes | None] = [None] * len(events)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _uuid(n: int, m: int) -> str:
    """A version-4-shaped GUID from two numbers (ids of one hour share no prefix)."""
    h = hashlib.blake2b(f"{n}|{m}".encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[m % 4]}{h[17:20]}-{h[20:32]}"


class History:
    """All events of the emulated organization, by pair and hour."""

    def __init__(
        self,
        settings: EmulatorSettings,
        management: str = "",
        planted: tuple[tuple[str, str, Event], ...] = (),
    ) -> None:
        """`management`: the management account's id (the cast of member accounts has its
        admin role assumed from there); `planted`: the scenarios' events (scenarios.py),
        placed in their pair and hour among the background."""
        self.settings = settings
        self._activity = Activity(settings.seed, management, settings.diurnal)
        self._planted: dict[tuple[str, str, int], list[Event]] = {}
        for account, region, ev in planted:
            self._planted.setdefault((account, region, ev.time // HOUR), []).append(ev)
        origin = settings.draw_origin
        self._origin = int(origin.timestamp()) // HOUR if origin is not None else 0
        self._cache: OrderedDict[tuple[str, str, int, bool], _Block] = OrderedDict()
        self._cached_events = 0
        self._insight_w = _cumulative(INSIGHT_TEMPLATES)

    # volume ------------------------------------------------------------------------
    def pair_factor(self, account: str, region: str) -> float:
        """Busy (x sqrt(skew)), normal (x1) or quiet (/ sqrt(skew)), fixed per pair."""
        tier = stable_hash("tier", self.settings.seed, account, region) % 100
        root = math.sqrt(self.settings.skew)
        return root if tier < 15 else (1.0 / root if tier >= 65 else 1.0)

    def _hour_rate(self, account: str, region: str, hour: int, insight: bool) -> float:
        s = self.settings
        if insight:
            return s.insights_per_day / 24.0
        draw = hour - self._origin  # the draws count hours from the origin; the clock does not
        idle = stable_hash("idle", s.seed, account, region, draw // 24) % 1000
        if idle < s.idle_day_share * 1000:
            return 0.0
        # Office hours and weekends: the cast's own rhythm, each principal active in its
        # hours (activity.py), scaled so that a week holds as many events as without it.
        rhythm = self._activity.rhythm(account, hour) if s.diurnal else 1.0
        burst = 12.0 if stable_hash("burst", s.seed, account, region, draw) % 100 < 2 else 1.0
        per_hour = s.events_per_day * self.pair_factor(account, region) / 24.0
        return per_hour * rhythm * burst

    # generation --------------------------------------------------------------------
    def _generate(self, account: str, region: str, hour: int, insight: bool) -> tuple[Event, ...]:
        draw = hour - self._origin
        seed = stable_hash("hour", self.settings.seed, account, region, draw, insight)
        rng = random.Random(seed)
        n = _poisson(rng, self._hour_rate(account, region, hour, insight))
        planted = () if insight else self._planted.get((account, region, hour), ())
        if n == 0 and not planted:
            return ()
        seconds: list[int] = []
        for _ in range(n):  # a third of events share a second with the one before (ties)
            same = seconds and rng.random() < 0.33
            seconds.append(seconds[-1] if same else rng.randrange(HOUR))
        # Newest first; ties (same second) keep generation order, the planted after the
        # background. An event's rank is its place in that order.
        times = [hour * HOUR + sec for sec in seconds] + [p.time for p in planted]
        order = sorted(range(len(times)), key=lambda i: -times[i])
        rank = [0] * len(times)
        for r, i in enumerate(order):
            rank[i] = r
        if insight:
            made = self._insights(rng, seed, hour, seconds, rank)
        else:
            made = self._calls(rng, seed, account, region, hour, seconds, rank)
        made += [replace(p, hour=hour, rank=rank[n + k]) for k, p in enumerate(planted)]
        made.sort(key=lambda e: e.rank)
        return tuple(made)

    def _insights(
        self, rng: random.Random, seed: int, hour: int, seconds: list[int], rank: list[int]
    ) -> list[Event]:
        events = []
        for i, second in enumerate(seconds):
            identity = stable_hash("id", seed, i)
            t = rng.choices(INSIGHT_TEMPLATES, cum_weights=self._insight_w)[0]
            detail = rng.getrandbits(62)
            events.append(Event(
                time=hour * HOUR + second, hour=hour, rank=rank[i],
                event_id=_uuid(seed, identity),
                template=t, username=None, access_key_id=None, resources=(), insight=True,
                detail=detail, lag_draw=draw_of(identity),
            ))  # fmt: skip
        return events

    def _calls(
        self, rng: random.Random, seed: int, account: str, region: str, hour: int,
        seconds: list[int], rank: list[int],
    ) -> list[Event]:  # fmt: skip
        """The hour's background calls, in generation order (activity.py)."""
        chosen = self._activity.choose(rng, account, region, hour, len(seconds))
        opening = {i: key for key, i in openers(chosen, seconds).items()}
        sessions: dict[str, tuple[str, int]] = {}
        for i in sorted(opening, key=lambda i: seconds[i]):
            actor = chosen[i][0]
            key = session_key(self.settings.seed, account, region, actor, hour)
            sessions[actor.key] = (key, hour * HOUR + seconds[i])
        events = []
        for i, (actor, t, detail) in enumerate(chosen):
            identity = stable_hash("id", seed, i)
            opens = i in opening
            session = sessions.get(actor.key) if t is not CONSOLE_LOGIN else None
            if opens:
                t = opening_template(actor)
            user, akid = lookup_identity(actor, t, session[0] if session else None, opens)
            time = hour * HOUR + seconds[i]
            res: tuple[tuple[str, str], ...] = ()
            if t.res:
                ctx = event_ctx(account, region, t, detail, time, actor, session, None)
                res = lookup_resources(t, ctx)
            events.append(Event(
                time=time, hour=hour, rank=rank[i], event_id=_uuid(seed, identity), template=t,
                username=user, access_key_id=akid, resources=res,
                insight=False, detail=detail,
                # The hash the id is made from (the id is a hash of it, so the two look
                # unrelated), not a draw of `rng`: it costs no extra hash.
                lag_draw=draw_of(identity), actor=actor, session=session,
            ))  # fmt: skip
        return events

    def _block(self, account: str, region: str, hour: int, insight: bool) -> _Block:
        key = (account, region, hour, insight)
        block = self._cache.get(key)
        if block is not None:
            self._cache.move_to_end(key)
            return block
        block = _Block(self._generate(account, region, hour, insight))
        self._cache[key] = block
        self._cached_events += len(block.events)
        while self._cached_events > _CACHE_EVENTS and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached_events -= len(old.events)
        return block

    def rendered(self, account: str, region: str, event: Event) -> bytes:
        """The event as LookupEvents returns it (JSON bytes), rendered once and cached."""
        block = self._block(account, region, event.hour, event.insight)
        cached = block.rendered[event.rank]
        if cached is None:
            cached = block.rendered[event.rank] = render_event(account, region, event)
        return cached

    # queries -----------------------------------------------------------------------
    def events(
        self,
        account: str,
        region: str,
        *,
        start: int,
        end: int,
        insight: bool = False,
        attribute: tuple[str, str] | None = None,
        after: tuple[int, int] | None = None,
        arrived_by: int | None = None,
        lag: Lag | None = None,
    ) -> Iterator[Event]:
        """Events with start <= time <= end, newest first, from position `after` on
        (inclusive); with `arrived_by`, only those that arrived by then under `lag` (the
        one visibility rule, of LookupEvents and of the ground truth alike)."""
        late = lag if lag is not None and not lag.off and arrived_by is not None else None
        deadline = arrived_by or 0  # read only with `late`
        hour = end // HOUR
        first_rank = 0
        if after is not None:
            hour, first_rank = after
        while hour >= start // HOUR:
            block = self._block(account, region, hour, insight)
            for ev in block.events[first_rank:]:
                if ev.time > end:
                    continue
                if ev.time < start:
                    return
                if late is not None and ev.time + late.delay(ev.lag_draw) > deadline:
                    continue  # not delivered yet (lag.py)
                if attribute is None or ev.matches(*attribute):
                    yield ev
            hour -= 1
            first_rank = 0


def _cumulative(templates: list[Template] | tuple[Template, ...]) -> list[int]:
    total, out = 0, []
    for t in templates:
        total += t.weight
        out.append(total)
    return out
